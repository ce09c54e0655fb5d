//! Ledger reads and writes over the [`Store`] trait.

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{LedgerRow, Lifecycle, Remediation, Restatement};
use crate::audit::tenant_pk;
use crate::store::codec::{from_item, into_record, to_item};
use crate::store::{
    Condition, Cursor, Item, MAX_TRANSACTION_OPS, Query, SortKey, Store, StoreError, WriteOp,
};

const LEDGER_PREFIX: &str = "LEDGER#";
const RESTATEMENT_PREFIX: &str = "RESTATEMENT#";
const REMEDIATION_PREFIX: &str = "REMEDIATION#";
/// Sorts after every line id (hex) and timestamp.
const HIGH: &str = "~";
const MAX_UPSERT_ATTEMPTS: u32 = 5;

pub fn ledger_sk(date: NaiveDate, line_id: &str) -> String {
    format!("{LEDGER_PREFIX}{date}#{line_id}")
}

pub fn restatement_sk(date: NaiveDate, line_id: &str, at: DateTime<Utc>) -> String {
    format!(
        "{RESTATEMENT_PREFIX}{date}#{line_id}#{}",
        at.format("%Y%m%dT%H%M%S%.9fZ")
    )
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Inserted,
    /// A preliminary row replaced (no restatement).
    Updated,
    /// A final row changed; a restatement was recorded.
    Restated,
    Unchanged,
    /// This run already wrote the same line id from an earlier line: a
    /// duplicate natural key.
    Duplicate,
}

/// What writing `row` over the stored item takes: the writes (all under
/// conditions on what was read) and what they do. No writes when nothing is
/// to be written.
struct Plan {
    ops: Vec<WriteOp>,
    outcome: Upserted,
}

/// The restatement rules, for one row over what the store holds: insert,
/// leave alone when unchanged (recording only which run saw it last, so
/// in-file duplicates are caught), replace a preliminary row, or replace a
/// final row and record its restatement in the same transaction.
fn plan(row: &LedgerRow, existing: Option<Item>, source: &str) -> Result<Plan, StoreError> {
    let pk = tenant_pk(&row.tenant_id);
    let sk = ledger_sk(row.charge_date, &row.line_id);
    let Some(item) = existing else {
        return Ok(Plan {
            ops: vec![WriteOp::Put {
                item: to_item(&pk, &sk, 1, row),
                condition: Condition::NotExists,
            }],
            outcome: Upserted::Inserted,
        });
    };
    let (old, version): (LedgerRow, u64) = from_item(&item)?;
    if !row.ingest_run.is_empty() && old.ingest_run == row.ingest_run {
        // The same line written by this run before (a resumed run replaying
        // what it wrote before it stopped) is already in place.
        let replay = row.ingest_line != 0 && old.ingest_line == row.ingest_line;
        return Ok(Plan {
            ops: Vec::new(),
            outcome: if replay {
                Upserted::Unchanged
            } else {
                Upserted::Duplicate
            },
        });
    }
    let put = WriteOp::Put {
        item: to_item(&pk, &sk, version + 1, row),
        condition: Condition::VersionEquals(version),
    };
    Ok(if old.same_content(row) {
        Plan {
            ops: vec![put],
            outcome: Upserted::Unchanged,
        }
    } else if old.lifecycle == Lifecycle::Final {
        let now = Utc::now();
        let restatement = restatement_of(&old, row, now, source);
        let rsk = restatement_sk(row.charge_date, &row.line_id, now);
        Plan {
            ops: vec![
                put,
                WriteOp::Put {
                    item: to_item(&pk, &rsk, 1, &restatement),
                    condition: Condition::NotExists,
                },
            ],
            outcome: Upserted::Restated,
        }
    } else {
        Plan {
            ops: vec![put],
            outcome: Upserted::Updated,
        }
    })
}

/// A lost race with another writer of the same item: read again and retry.
fn raced(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::ConditionFailed { .. }
            | StoreError::TransactionConditionFailed { .. }
            | StoreError::TransactionConflict
    )
}

/// Write `row` idempotently by the restatement rules ([`plan`]), reading
/// again when another writer changed it in between.
pub async fn upsert_row(
    store: &dyn Store,
    row: &LedgerRow,
    source: &str,
) -> Result<Upserted, StoreError> {
    let pk = tenant_pk(&row.tenant_id);
    let sk = ledger_sk(row.charge_date, &row.line_id);
    for _ in 0..MAX_UPSERT_ATTEMPTS {
        let existing = store.get(&pk, &sk).await?;
        let Plan { mut ops, outcome } = plan(row, existing, source)?;
        let result = match ops.len() {
            0 => return Ok(outcome),
            1 => match ops.pop() {
                Some(WriteOp::Put { item, condition }) => store.put(item, condition).await,
                _ => unreachable!("a plan writes with puts"),
            },
            _ => store.transact(ops).await,
        };
        match result {
            Err(e) if raced(&e) => continue,
            other => return other.map(|()| outcome),
        }
    }
    Err(StoreError::Unavailable(format!(
        "ledger row {sk} kept changing under concurrent writers"
    )))
}

/// [`upsert_row`] for many rows of distinct keys at once: one batch read,
/// then the writes as conditional transactions of up to
/// [`MAX_TRANSACTION_OPS`] (BatchWriteItem takes no conditions, and the rules
/// need them). A transaction that loses a race to another writer is redone
/// row by row by [`upsert_row`], so the outcome is the sequential one.
pub async fn upsert_rows(
    store: &dyn Store,
    rows: &[LedgerRow],
    source: &str,
) -> Result<Vec<Upserted>, StoreError> {
    let keys = rows
        .iter()
        .map(|r| {
            (
                tenant_pk(&r.tenant_id),
                ledger_sk(r.charge_date, &r.line_id),
            )
        })
        .collect();
    let existing = store.batch_get(keys).await?;
    let mut outcomes = Vec::with_capacity(rows.len());
    // Row indexes and their writes, one transaction's worth at a time.
    let mut group: (Vec<usize>, Vec<WriteOp>) = (Vec::new(), Vec::new());
    for (i, (row, item)) in rows.iter().zip(existing).enumerate() {
        let Plan { ops, outcome } = plan(row, item, source)?;
        outcomes.push(outcome);
        if ops.is_empty() {
            continue;
        }
        if group.1.len() + ops.len() > MAX_TRANSACTION_OPS {
            write_group(
                store,
                rows,
                &mut outcomes,
                std::mem::take(&mut group),
                source,
            )
            .await?;
        }
        group.0.push(i);
        group.1.extend(ops);
    }
    write_group(store, rows, &mut outcomes, group, source).await?;
    Ok(outcomes)
}

async fn write_group(
    store: &dyn Store,
    rows: &[LedgerRow],
    outcomes: &mut [Upserted],
    (indexes, ops): (Vec<usize>, Vec<WriteOp>),
    source: &str,
) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Ok(());
    }
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(e) if raced(&e) => {
            for i in indexes {
                outcomes[i] = upsert_row(store, &rows[i], source).await?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn restatement_of(
    old: &LedgerRow,
    new: &LedgerRow,
    at: DateTime<Utc>,
    source: &str,
) -> Restatement {
    let old_v = serde_json::to_value(old).unwrap_or_default();
    let new_v = serde_json::to_value(new).unwrap_or_default();
    let mut changed_fields = Vec::new();
    if let (Some(o), Some(n)) = (old_v.as_object(), new_v.as_object()) {
        for (k, v) in n {
            if k != "ingest_run" && k != "ingest_line" && o.get(k) != Some(v) {
                changed_fields.push(k.clone());
            }
        }
    }
    Restatement {
        line_id: new.line_id.clone(),
        charge_date: new.charge_date,
        provider: new.provider.clone(),
        currency: new.currency.clone(),
        old_billed_cost: old.billed_cost,
        new_billed_cost: new.billed_cost,
        old_effective_cost: old.effective_cost,
        new_effective_cost: new.effective_cost,
        delta_billed_cost: new.billed_cost - old.billed_cost,
        old_lifecycle: old.lifecycle,
        new_lifecycle: new.lifecycle,
        changed_fields,
        restated_at: at,
        source: source.to_owned(),
    }
}

/// Charge dates, inclusive on both ends.
#[derive(Debug, Clone, Copy)]
pub struct LedgerRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl LedgerRange {
    fn sort_key(&self, prefix: &str) -> SortKey {
        SortKey::Between(
            format!("{prefix}{}#", self.start),
            format!("{prefix}{}#{HIGH}", self.end),
        )
    }
}

/// One page of a tenant's ledger rows in `range`, by charge date ascending.
pub async fn query_ledger(
    store: &dyn Store,
    tenant_id: &str,
    range: LedgerRange,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<LedgerRow>, Option<Cursor>), StoreError> {
    query_records(
        store,
        tenant_id,
        range.sort_key(LEDGER_PREFIX),
        limit,
        cursor,
    )
    .await
}

/// One page of restatements of rows charged in `range`.
pub async fn query_restatements(
    store: &dyn Store,
    tenant_id: &str,
    range: LedgerRange,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<Restatement>, Option<Cursor>), StoreError> {
    query_records(
        store,
        tenant_id,
        range.sort_key(RESTATEMENT_PREFIX),
        limit,
        cursor,
    )
    .await
}

/// One ascending page of typed records of a tenant's partition.
async fn query_records<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    tenant_id: &str,
    sk: crate::store::SortKey,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<T>, Option<Cursor>), StoreError> {
    let page = store
        .query(Query {
            pk: tenant_pk(tenant_id),
            sk,
            descending: false,
            limit,
            cursor,
        })
        .await?;
    let rows = page
        .items
        .into_iter()
        .map(into_record)
        .collect::<Result<_, _>>()?;
    Ok((rows, page.next_cursor))
}

/// The write that creates or replaces a remediation record (in a transaction
/// with its audit event).
pub(crate) fn put_remediation_op(record: &Remediation) -> WriteOp {
    let pk = tenant_pk(&record.tenant_id);
    let sk = format!("{REMEDIATION_PREFIX}{}", record.id);
    WriteOp::Put {
        item: to_item(&pk, &sk, 1, record),
        condition: Condition::None,
    }
}

pub async fn get_remediation(
    store: &dyn Store,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Remediation>, StoreError> {
    let sk = format!("{REMEDIATION_PREFIX}{id}");
    match store.get(&tenant_pk(tenant_id), &sk).await? {
        Some(item) => Ok(Some(from_item(&item)?.0)),
        None => Ok(None),
    }
}

/// One page of a tenant's remediation records, by id.
pub async fn list_remediations(
    store: &dyn Store,
    tenant_id: &str,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<Remediation>, Option<Cursor>), StoreError> {
    let page = store
        .query(Query {
            pk: tenant_pk(tenant_id),
            sk: SortKey::Prefix(REMEDIATION_PREFIX.into()),
            descending: false,
            limit,
            cursor,
        })
        .await?;
    let rows = page
        .items
        .into_iter()
        .map(into_record)
        .collect::<Result<_, _>>()?;
    Ok((rows, page.next_cursor))
}
