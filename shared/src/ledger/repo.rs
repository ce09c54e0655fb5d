//! Ledger reads and writes over the [`Store`] trait.

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{LedgerRow, Lifecycle, Remediation, Restatement};
use crate::audit::tenant_pk;
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, Cursor, Query, SortKey, Store, StoreError, WriteOp};

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
    /// This run already wrote the same line id: a duplicate natural key.
    Duplicate,
}

/// Write `row` idempotently: insert, leave alone when unchanged, replace a
/// preliminary row, or replace a final row and record its restatement in the
/// same transaction.
pub async fn upsert_row(
    store: &dyn Store,
    row: &LedgerRow,
    source: &str,
) -> Result<Upserted, StoreError> {
    let pk = tenant_pk(&row.tenant_id);
    let sk = ledger_sk(row.charge_date, &row.line_id);
    for _ in 0..MAX_UPSERT_ATTEMPTS {
        let existing = store.get(&pk, &sk).await?;
        let result = match existing {
            None => store
                .put(to_item(&pk, &sk, 1, row), Condition::NotExists)
                .await
                .map(|()| Upserted::Inserted),
            Some(item) => {
                let (old, version): (LedgerRow, u64) = from_item(&item)?;
                if !row.ingest_run.is_empty() && old.ingest_run == row.ingest_run {
                    return Ok(Upserted::Duplicate);
                }
                let put = to_item(&pk, &sk, version + 1, row);
                if old.same_content(row) {
                    // Record which run saw it last, so in-file duplicates are caught.
                    store
                        .put(put, Condition::VersionEquals(version))
                        .await
                        .map(|()| Upserted::Unchanged)
                } else if old.lifecycle == Lifecycle::Final {
                    let now = Utc::now();
                    let restatement = restatement_of(&old, row, now, source);
                    let rsk = restatement_sk(row.charge_date, &row.line_id, now);
                    store
                        .transact(vec![
                            WriteOp::Put {
                                item: put,
                                condition: Condition::VersionEquals(version),
                            },
                            WriteOp::Put {
                                item: to_item(&pk, &rsk, 1, &restatement),
                                condition: Condition::NotExists,
                            },
                        ])
                        .await
                        .map(|()| Upserted::Restated)
                } else {
                    store
                        .put(put, Condition::VersionEquals(version))
                        .await
                        .map(|()| Upserted::Updated)
                }
            }
        };
        match result {
            Err(
                StoreError::ConditionFailed { .. }
                | StoreError::TransactionConditionFailed { .. }
                | StoreError::TransactionConflict,
            ) => continue,
            other => return other,
        }
    }
    Err(StoreError::Unavailable(format!(
        "ledger row {sk} kept changing under concurrent writers"
    )))
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
            if k != "ingest_run" && o.get(k) != Some(v) {
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
        .iter()
        .map(|i| from_item(i).map(|(r, _)| r))
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
        .iter()
        .map(|i| from_item(i).map(|(r, _)| r))
        .collect::<Result<_, _>>()?;
    Ok((rows, page.next_cursor))
}
