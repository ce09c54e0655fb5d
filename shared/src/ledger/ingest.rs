//! FOCUS cost files (CSV, plain or gzip) into the ledger, streamed.
//!
//! The file is parsed on a blocking thread ([`super::parse`]) and handed over
//! record by record through a bounded channel, so memory stays flat whatever
//! the file's size. Rows are written idempotently in batches, several in
//! flight ([`super::batches`]); rows that cannot be mapped are rejected with
//! their line number and reason. One audit event (`cost.ingested`) records
//! the counts. A file larger than one invocation is ingested in steps
//! ([`super::resume`]).
//!
//! Lifecycle: an `x_CostLifecycle` (or `x_Lifecycle`) column of `preliminary`
//! / `final` wins; otherwise a row whose billing period has not ended at
//! ingest time is preliminary, else final. Missing `EffectiveCost`,
//! `ListCost` or `ContractedCost` *columns* default to `BilledCost`; an empty
//! or malformed cell in a present cost column rejects the row.

use std::io::Read;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::batches::{Stopped, write_events};
use super::parse::{Begin, Event, parse};
use crate::audit::{Actor, AuditLog, NewEvent};
use crate::store::{DynStore, StoreError};

pub use super::batches::{Budget, Pace};
pub use super::parse::{At, Parsed, decompressing_any, parse_all};

/// At most this many rejections are listed (all are counted).
pub const MAX_LISTED_REJECTIONS: usize = 1000;
/// Largest cost a row may carry, in absolute value: far above any real line
/// item, far below where the pack's month totals would overflow `Decimal`
/// (a panic, a 500) over billions of rows.
pub const MAX_COST: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RowRejection {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IngestReport {
    pub run_id: String,
    pub tenant_id: String,
    pub source: String,
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub restated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] rejections.
    pub rejections: Vec<RowRejection>,
    pub rejections_truncated: bool,
}

impl IngestReport {
    pub(crate) fn reject(&mut self, r: RowRejection) {
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            self.rejections.push(r);
        } else {
            self.rejections_truncated = true;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the file cannot be read as a FOCUS CSV: {0}")]
    Unreadable(String),
    /// The file could not be fetched (a retry may cure it).
    #[error("the file cannot be fetched: {0}")]
    Fetch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Ingest one whole file for `tenant_id` in one go. `reader` may be gzip;
/// it is read on a blocking thread.
pub async fn ingest<R: Read + Send + 'static>(
    store: &DynStore,
    audit: &AuditLog,
    tenant_id: &str,
    source: &str,
    reader: R,
    actor: Actor,
) -> Result<IngestReport, IngestError> {
    ingest_paced(
        store,
        audit,
        tenant_id,
        source,
        reader,
        actor,
        Pace::default(),
    )
    .await
}

/// [`ingest`] at a chosen pace (the benchmarks compare paces).
pub async fn ingest_paced<R: Read + Send + 'static>(
    store: &DynStore,
    audit: &AuditLog,
    tenant_id: &str,
    source: &str,
    reader: R,
    actor: Actor,
    pace: Pace,
) -> Result<IngestReport, IngestError> {
    let mut report = IngestReport {
        run_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant_id.to_owned(),
        source: source.to_owned(),
        ..Default::default()
    };
    let (stopped, _) = run_part(
        store,
        &mut report,
        reader,
        Begin::File,
        pace,
        Budget::unbounded(),
    )
    .await?;
    let fatal = match stopped {
        Stopped::Fatal(e) => Some(e),
        Stopped::End | Stopped::Paused(_) => None,
    };
    if let Err(e) = audit
        .append(ingested_event(&report, fatal.as_deref(), actor))
        .await
    {
        tracing::error!(error = %e, "could not audit the cost ingest");
    }
    match fatal {
        Some(e) => Err(IngestError::Unreadable(e)),
        None => Ok(report),
    }
}

/// The file's shape as the parser found it (`None` when it stopped before).
pub(crate) type Opened = Option<(Vec<String>, bool)>;

/// Parse `reader` from `begin` and write its rows until the end, a fatal
/// error or the budget, adding to `report` (whose run id the rows carry).
pub(crate) async fn run_part<R: Read + Send + 'static>(
    store: &DynStore,
    report: &mut IngestReport,
    reader: R,
    begin: Begin,
    pace: Pace,
    budget: Budget,
) -> Result<(Stopped, Opened), StoreError> {
    let now = Utc::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(1024);
    let (tenant, run) = (report.tenant_id.clone(), report.run_id.clone());
    let parser = tokio::task::spawn_blocking(move || {
        parse(reader, begin, &tenant, &run, now, &mut |e| {
            tx.blocking_send(e).is_ok()
        })
    });
    let source = report.source.clone();
    let result = write_events(store, &source, &mut rx, pace, budget, report).await;
    // Dropping the receiver stops a parser still reading.
    drop(rx);
    let _ = parser.await;
    result
}

/// The `cost.ingested` audit event of a finished file.
pub(crate) fn ingested_event(report: &IngestReport, fatal: Option<&str>, actor: Actor) -> NewEvent {
    let mut details = json!({
        "run_id": report.run_id,
        "source": report.source,
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "restated": report.restated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "rejections": report.rejections.iter().take(50).collect::<Vec<_>>(),
    });
    if let Some(e) = fatal {
        details["error"] = Value::from(e);
    }
    NewEvent {
        tenant_id: report.tenant_id.clone(),
        event_type: "cost.ingested".into(),
        actor,
        request_id: None,
        resource: Some(format!("cost-file/{}", report.source)),
        success: fatal.is_none(),
        details,
    }
}
