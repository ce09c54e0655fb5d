//! `valdrix-shared`: the code two or more Valdrix functions use. What only
//! some functions use is behind a cargo feature (`Cargo.toml`, docs/adr/0010):
//! a function links the store backend, HTTP layer, outbound client, exports
//! and ingest it calls, and nothing else.

pub mod audit;
#[cfg(feature = "http")]
pub mod auth;
pub mod aws;
pub mod config;
pub mod crypto;
pub mod deadline;
pub mod evidence;
#[cfg(feature = "exports")]
pub mod exports;
pub mod focus;
#[cfg(feature = "http")]
pub mod http;
pub mod idempotency;
pub mod ledger;
pub mod metrics;
pub mod notify;
#[cfg(feature = "exports")]
pub mod objects;
pub mod outbound;
pub mod policy;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenancy;
#[cfg(feature = "outbound")]
pub mod tls;
pub mod validate;
pub mod waiver;
