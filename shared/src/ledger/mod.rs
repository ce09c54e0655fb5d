//! The cost ledger: one row per cost line per tenant, with FOCUS fields, exact
//! decimals and a lifecycle; restatements of final rows; remediation records.
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `TENANT#<id>` | `LEDGER#<charge date>#<line id>` | [`LedgerRow`] |
//! | `TENANT#<id>` | `RESTATEMENT#<charge date>#<line id>#<time>` | [`Restatement`] |
//! | `TENANT#<id>` | `REMEDIATION#<id>` | [`Remediation`] |
//! | `TENANT#<id>` | `INGEST#<digest of file and version>` | a cost file's ingest progress ([`resume`]) |
//!
//! Money is [`Decimal`], stored as a string (never a float). A row's line id
//! is a hash of its natural key, so ingesting the same file twice writes the
//! same items.

#[cfg(feature = "ingest")]
mod batches;
#[cfg(feature = "ingest")]
pub mod ingest;
#[cfg(feature = "ingest")]
mod lines;
mod model;
#[cfg(feature = "ingest")]
mod parse;
pub mod remediation;
mod repo;
#[cfg(feature = "ingest")]
pub mod resume;

pub use model::{
    CostWindow, LedgerRow, Lifecycle, PROVIDERS, Remediation, RemediationStatus, Restatement,
    line_id, provider_key,
};
pub use remediation::{MAX_AMOUNT, RecordError, Recorded, RemediationInput, record};
pub use repo::{
    LedgerRange, Upserted, get_remediation, ledger_sk, list_remediations, query_ledger,
    query_restatements, restatement_sk, upsert_row, upsert_rows,
};

pub use rust_decimal::Decimal;
