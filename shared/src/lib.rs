//! `valdrix-shared`: the code two or more Valdrix functions use.

pub mod config;
pub mod startup;
pub mod telemetry;
