//! `valdrix-shared`: the code two or more Valdrix functions use.

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod evidence;
pub mod exports;
pub mod focus;
pub mod http;
pub mod idempotency;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod objects;
pub mod outbound;
pub mod policy;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod validate;
pub mod waiver;
