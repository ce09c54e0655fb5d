//! The parser's records into the ledger in batches, several in flight.
//!
//! Rows are grouped in file order into batches of [`Pace::batch_rows`]; each
//! batch is one batch read and its conditional transactions
//! ([`upsert_rows`]), and up to [`Pace::in_flight`] batches run at once.
//! Results are taken in file order, so the report (rejections by line) is
//! the sequential one. Two rows with one key are never in flight together:
//! the second of one batch is a duplicate at once, and a row whose key an
//! earlier batch still writes waits for it, so it reads what that wrote.

use std::collections::HashSet;

use futures::StreamExt;
use futures::stream::FuturesOrdered;

use super::ingest::{IngestReport, Opened, RowRejection};
use super::model::LedgerRow;
use super::parse::{At, Event, Parsed};
use super::repo::{Upserted, ledger_sk, upsert_rows};
use crate::deadline::Deadline;
use crate::store::{DynStore, StoreError};

/// Records in one batch at most, rows or rejections.
const MAX_ENTRIES: usize = 1000;
const DUPLICATE: &str = "duplicate of an earlier row of this file (same natural key)";

/// How the rows are written: rows per batch and batches at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub batch_rows: usize,
    pub in_flight: usize,
}

impl Default for Pace {
    /// A batch read takes 100 keys; six batches keep DynamoDB busy without
    /// throttling one tenant's partition.
    fn default() -> Self {
        Self {
            batch_rows: 100,
            in_flight: 6,
        }
    }
}

impl Pace {
    /// One row at a time: the pace before batching (the benchmarks' peer).
    pub const SEQUENTIAL: Self = Self {
        batch_rows: 1,
        in_flight: 1,
    };
}

/// When a part stops taking records: its deadline, or a number of records
/// (tests and benchmarks stop a file part-way deterministically).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub deadline: Deadline,
    pub records: u64,
}

impl Budget {
    pub fn unbounded() -> Self {
        Self {
            deadline: Deadline::unbounded(),
            records: u64::MAX,
        }
    }

    pub fn until(deadline: Deadline) -> Self {
        Self {
            deadline,
            records: u64::MAX,
        }
    }
}

/// Why the writing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Every record is written.
    End,
    /// The file cannot be read on; every record before the error is written.
    Fatal(String),
    /// The budget ran out; every record before `At` is written.
    Paused(At),
}

/// A batch's records in file order: its rows (written together), and where
/// rejections fall between them.
#[derive(Default)]
struct Batch {
    rows: Vec<LedgerRow>,
    /// `None` for the next row, `Some` for a rejection, in file order.
    order: Vec<Option<RowRejection>>,
    keys: HashSet<String>,
}

/// What one batch did, to add to the report in file order.
struct Tally {
    order: Vec<Option<RowRejection>>,
    lines: Vec<u64>,
    outcomes: Vec<Upserted>,
    keys: HashSet<String>,
}

async fn write_batch(store: &DynStore, source: &str, batch: Batch) -> Result<Tally, StoreError> {
    let outcomes = if batch.rows.is_empty() {
        Vec::new()
    } else {
        upsert_rows(store.as_ref(), &batch.rows, source).await?
    };
    Ok(Tally {
        order: batch.order,
        lines: batch.rows.iter().map(|r| r.ingest_line).collect(),
        outcomes,
        keys: batch.keys,
    })
}

fn add(report: &mut IngestReport, tally: Tally) {
    let mut rows = tally.outcomes.iter().zip(&tally.lines);
    for slot in tally.order {
        report.rows_read += 1;
        if let Some(rejection) = slot {
            report.reject(rejection);
            continue;
        }
        match rows.next() {
            Some((Upserted::Inserted, _)) => report.inserted += 1,
            Some((Upserted::Updated, _)) => report.updated += 1,
            Some((Upserted::Restated, _)) => report.restated += 1,
            Some((Upserted::Unchanged, _)) => report.unchanged += 1,
            Some((Upserted::Duplicate, line)) => report.reject(RowRejection {
                line: *line,
                reason: DUPLICATE.into(),
            }),
            None => unreachable!("one outcome per row"),
        }
    }
}

/// Take events from `rx` and write them until the end, a fatal error or
/// the budget; the counts go into `report`.
pub(crate) async fn write_events(
    store: &DynStore,
    source: &str,
    rx: &mut tokio::sync::mpsc::Receiver<Event>,
    pace: Pace,
    budget: Budget,
    report: &mut IngestReport,
) -> Result<(Stopped, Opened), StoreError> {
    let pace = Pace {
        batch_rows: pace.batch_rows.clamp(1, crate::store::MAX_BATCH_GET),
        in_flight: pace.in_flight.max(1),
    };
    let mut opened = None;
    let mut in_flight = FuturesOrdered::new();
    let mut flying: HashSet<String> = HashSet::new();
    let mut batch = Batch::default();
    let mut taken = 0u64;
    // Waits for the oldest batch in flight and counts it.
    macro_rules! land_one {
        () => {
            if let Some(done) = in_flight.next().await {
                let tally: Tally = done?;
                for key in &tally.keys {
                    flying.remove(key);
                }
                add(report, tally);
            }
        };
    }
    macro_rules! launch {
        () => {
            let full = std::mem::take(&mut batch);
            if !full.order.is_empty() {
                if in_flight.len() >= pace.in_flight {
                    land_one!();
                }
                flying.extend(full.keys.iter().cloned());
                in_flight.push_back(write_batch(store, source, full));
            }
        };
    }
    let stopped = loop {
        let Some(event) = rx.recv().await else {
            break Stopped::End;
        };
        let (at, parsed) = match event {
            Event::Opened { header, gzip } => {
                opened = Some((header, gzip));
                continue;
            }
            Event::Record(at, parsed) => (at, parsed),
        };
        if taken >= budget.records || budget.deadline.passed() {
            break Stopped::Paused(at);
        }
        taken += 1;
        match parsed {
            Parsed::Fatal(e) => break Stopped::Fatal(e),
            Parsed::Reject(r) => batch.order.push(Some(r)),
            Parsed::Row(line, row) => {
                let key = ledger_sk(row.charge_date, &row.line_id);
                if batch.keys.contains(&key) {
                    batch.order.push(Some(RowRejection {
                        line,
                        reason: DUPLICATE.into(),
                    }));
                } else {
                    if flying.contains(&key) {
                        launch!();
                        while flying.contains(&key) && !in_flight.is_empty() {
                            land_one!();
                        }
                    }
                    batch.keys.insert(key);
                    batch.rows.push(*row);
                    batch.order.push(None);
                }
            }
        }
        // Rejections count too, so a file of nothing else stays bounded.
        if batch.rows.len() >= pace.batch_rows || batch.order.len() >= MAX_ENTRIES {
            launch!();
        }
    };
    launch!();
    while !in_flight.is_empty() {
        land_one!();
    }
    Ok((stopped, opened))
}
