//! The audit log: the one way every part of the system records what happened.
//!
//! Each tenant's events form a hash chain (see [`event`]). An append writes the
//! event and moves the chain head (`AUDIT#HEAD`) in one transaction conditional
//! on the old head, so concurrent writers never fork the chain; a writer that
//! loses the race re-reads the head and tries again, a bounded number of times.

mod bounded;
pub mod checkpoint;
mod event;
mod range_cursor;
mod redact;
mod verify;

use std::time::Duration;

use serde_json::{Value, json};

use crate::store::{
    Condition, Cursor, DynStore, Item, Page, Query, SortKey, StoreError, VERSION_ATTRIBUTE, WriteOp,
};

pub use bounded::{Broken, Budget, RANGE_EVENTS, RangeVerification, Resume};
pub use event::{Actor, AuditEvent, GENESIS_HASH, NewEvent, canonical_json};
pub use range_cursor::{BadCursor, CURSOR_TTL_SECS, CursorKey, MAX_CURSOR_LEN};
pub use redact::{REDACTED, Redactor};
pub use verify::Verification;

const HEAD_SK: &str = "AUDIT#HEAD";
const EVENT_SK_PREFIX: &str = "AUDIT#";
/// Enough for dozens of writers racing on one tenant; each round one wins.
const MAX_APPEND_ATTEMPTS: u32 = 64;

pub fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn event_sk(seq: u64) -> String {
    format!("{EVENT_SK_PREFIX}{seq:020}")
}

/// The sort-key range that holds every event and never the head.
fn event_range() -> SortKey {
    SortKey::Between(event_sk(0), event_sk(u64::MAX))
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too many writers raced for the head; the caller may retry later.
    #[error("audit chain contention: gave up after {0} attempts")]
    Contention(u32),
    /// A stored event that is not an audit event (a corrupted item).
    #[error("stored audit item at {0} is malformed")]
    Malformed(String),
}

/// A secondary entry written with an event: `<sk_prefix><seq, 20 digits>` in
/// the tenant's partition, holding `attributes` and the event's `seq`.
#[derive(Debug, Clone)]
pub struct Index {
    pub sk_prefix: String,
    pub attributes: serde_json::Map<String, Value>,
}

impl Index {
    fn item(&self, event: &AuditEvent) -> Item {
        let mut item = self.attributes.clone();
        item.insert("pk".into(), tenant_pk(&event.tenant_id).into());
        item.insert(
            "sk".into(),
            format!("{}{:020}", self.sk_prefix, event.seq).into(),
        );
        item.insert("seq".into(), event.seq.into());
        item
    }
}

/// The chain's current end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    version: u64,
}

impl Head {
    /// The head an event would leave, for linking the next event of a batch
    /// (only the batch's first link is conditioned on the stored version).
    fn of(event: &AuditEvent) -> Self {
        Self {
            seq: event.seq,
            hash: event.hash.clone(),
            version: 0,
        }
    }
}

#[derive(Clone)]
pub struct AuditLog {
    store: DynStore,
    redactor: Redactor,
}

impl AuditLog {
    pub fn new(store: DynStore, redactor: Redactor) -> Self {
        Self { store, redactor }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The store the chain lives in (a use case that writes with its event reads there too).
    pub fn store(&self) -> &dyn crate::store::Store {
        self.store.as_ref()
    }

    /// Append one event to its tenant's chain.
    pub async fn append(&self, event: NewEvent) -> Result<AuditEvent, AuditError> {
        self.append_with(event, Vec::new()).await
    }

    /// Append one event in the same transaction as `ops`, so a state change and
    /// its audit record land together or not at all. A failed condition of one
    /// of `ops` is returned as is (indexes counted within `ops`), never retried.
    pub async fn append_with(
        &self,
        event: NewEvent,
        ops: Vec<WriteOp>,
    ) -> Result<AuditEvent, AuditError> {
        self.append_indexed(event, ops, None).await
    }

    /// Like [`append_with`](Self::append_with), and also writes `index` beside
    /// the event in the same transaction: an item at `<sk_prefix><seq>` that a
    /// listing of one kind of event (acceptance evidence, say) pages through.
    pub async fn append_indexed(
        &self,
        event: NewEvent,
        ops: Vec<WriteOp>,
        index: Option<Index>,
    ) -> Result<AuditEvent, AuditError> {
        let mut linked = self.append_all(vec![(event, index)], ops).await?;
        Ok(linked.pop().expect("one event in, one event out"))
    }

    /// Append several events of one tenant, consecutive in its chain, each
    /// with its optional index entry, and `ops`, all in one transaction: a run
    /// that records many events (an evidence suite) lands whole or not at all.
    /// Keep it small: DynamoDB takes at most 100 items per transaction.
    pub async fn append_all(
        &self,
        events: Vec<(NewEvent, Option<Index>)>,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let Some(tenant_id) = events.first().map(|(e, _)| e.tenant_id.clone()) else {
            return Ok(Vec::new());
        };
        assert!(
            events.iter().all(|(e, _)| e.tenant_id == tenant_id),
            "one chain per transaction"
        );
        let redacted: Vec<Value> = events
            .iter()
            .map(|(e, _)| self.redactor.redact(&e.details))
            .collect();
        // Writes before `ops`: each event, its index entry, and the head.
        let fixed = 1 + events.len() + events.iter().filter(|(_, i)| i.is_some()).count();
        for attempt in 1..=MAX_APPEND_ATTEMPTS {
            let head = self.head(&tenant_id).await?;
            let mut linked: Vec<AuditEvent> = Vec::with_capacity(events.len());
            let mut all = Vec::with_capacity(fixed + ops.len());
            for ((event, index), details) in events.iter().zip(&redacted) {
                let prev = linked.last().map(Head::of).or_else(|| head.clone());
                let next = link(event, details.clone(), prev.as_ref());
                all.push(WriteOp::Put {
                    item: event_item(&next),
                    condition: Condition::NotExists,
                });
                if let Some(index) = index {
                    all.push(WriteOp::Put {
                        item: index.item(&next),
                        condition: Condition::NotExists,
                    });
                }
                linked.push(next);
            }
            let last = linked.last().expect("at least one event");
            all.push(head_write(last, head.as_ref()));
            all.extend(ops.iter().cloned());
            // Last, so the indexes of `ops` stay as the caller counted them.
            let old_seq = head.as_ref().map_or(0, |h| h.seq);
            all.extend(checkpoint::due_marker(
                &tenant_id,
                old_seq,
                last.seq,
                checkpoint::EVERY_EVENTS,
            ));
            match self.store.transact(all).await {
                Ok(()) => return Ok(linked),
                Err(StoreError::TransactionConditionFailed { index, pk, sk }) if index >= fixed => {
                    return Err(StoreError::TransactionConditionFailed {
                        index: index - fixed,
                        pk,
                        sk,
                    }
                    .into());
                }
                Err(
                    StoreError::TransactionConditionFailed { .. } | StoreError::TransactionConflict,
                ) => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AuditError::Contention(MAX_APPEND_ATTEMPTS))
    }

    /// One event by its seq.
    pub async fn event(&self, tenant_id: &str, seq: u64) -> Result<Option<AuditEvent>, AuditError> {
        match self
            .store
            .get(&tenant_pk(tenant_id), &event_sk(seq))
            .await?
        {
            Some(item) => parse_item(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Events by seq, in one batch read (a repeated seq is read once): one
    /// answer per seq, in order.
    pub async fn events(
        &self,
        tenant_id: &str,
        seqs: &[u64],
    ) -> Result<Vec<Option<AuditEvent>>, AuditError> {
        let mut unique = seqs.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let pk = tenant_pk(tenant_id);
        let keys = unique
            .iter()
            .map(|&seq| (pk.clone(), event_sk(seq)))
            .collect();
        let found = self.store.batch_get(keys).await?;
        let by_seq = unique
            .into_iter()
            .zip(found)
            .map(|(seq, item)| Ok((seq, item.map(|i| parse_item(&i)).transpose()?)))
            .collect::<Result<std::collections::HashMap<_, _>, AuditError>>()?;
        Ok(seqs.iter().map(|seq| by_seq[seq].clone()).collect())
    }

    pub async fn head(&self, tenant_id: &str) -> Result<Option<Head>, AuditError> {
        let Some(item) = self.store.get(&tenant_pk(tenant_id), HEAD_SK).await? else {
            return Ok(None);
        };
        let num = |k: &str| item.get(k).and_then(Value::as_u64);
        match (
            num("seq"),
            item.get("hash").and_then(Value::as_str),
            num(VERSION_ATTRIBUTE),
        ) {
            (Some(seq), Some(hash), Some(version)) => Ok(Some(Head {
                seq,
                hash: hash.to_owned(),
                version,
            })),
            _ => Err(AuditError::Malformed(HEAD_SK.into())),
        }
    }

    /// One page of a tenant's events, newest first when `descending`.
    pub async fn page(
        &self,
        tenant_id: &str,
        limit: u32,
        cursor: Option<Cursor>,
        descending: bool,
    ) -> Result<(Vec<AuditEvent>, Option<Cursor>), AuditError> {
        let Page { items, next_cursor } = self
            .store
            .query(Query {
                pk: tenant_pk(tenant_id),
                sk: event_range(),
                descending,
                limit,
                cursor,
            })
            .await?;
        let events = items.iter().map(parse_item).collect::<Result<_, _>>()?;
        Ok((events, next_cursor))
    }

    /// One page of the events with `from <= seq <= to`, in seq order.
    pub async fn page_between(
        &self,
        tenant_id: &str,
        (from, to): (u64, u64),
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<AuditEvent>, Option<Cursor>), AuditError> {
        let Page { items, next_cursor } = self
            .store
            .query(Query {
                pk: tenant_pk(tenant_id),
                sk: SortKey::Between(event_sk(from), event_sk(to)),
                descending: false,
                limit,
                cursor,
            })
            .await?;
        let events = items.iter().map(parse_item).collect::<Result<_, _>>()?;
        Ok((events, next_cursor))
    }
}

fn link(event: &NewEvent, details: Value, head: Option<&Head>) -> AuditEvent {
    let mut linked = AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: event.tenant_id.clone(),
        seq: head.map_or(1, |h| h.seq + 1),
        event_type: event.event_type.clone(),
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        actor: event.actor.clone(),
        request_id: event.request_id.clone(),
        resource: event.resource.clone(),
        success: event.success,
        details,
        prev_hash: head.map_or_else(|| GENESIS_HASH.to_owned(), |h| h.hash.clone()),
        hash: String::new(),
    };
    linked.hash = linked.compute_hash();
    linked
}

/// The stored form: the hashed event under `event`, the hash beside it, and a
/// few top-level copies for filtering.
fn event_item(e: &AuditEvent) -> Item {
    let mut body = serde_json::to_value(e).expect("audit event serializes");
    if let Value::Object(map) = &mut body {
        map.remove("hash");
    }
    let item = json!({
        "pk": tenant_pk(&e.tenant_id),
        "sk": event_sk(e.seq),
        "event": body,
        "hash": e.hash,
        "event_type": e.event_type,
    });
    match item {
        Value::Object(map) => map,
        _ => unreachable!("json! object"),
    }
}

fn head_write(e: &AuditEvent, old: Option<&Head>) -> WriteOp {
    let version = old.map_or(1, |h| h.version + 1);
    let item = json!({
        "pk": tenant_pk(&e.tenant_id),
        "sk": HEAD_SK,
        "seq": e.seq,
        "hash": e.hash,
        VERSION_ATTRIBUTE: version,
    });
    WriteOp::Put {
        item: match item {
            Value::Object(map) => map,
            _ => unreachable!("json! object"),
        },
        condition: old.map_or(Condition::NotExists, |h| {
            Condition::VersionEquals(h.version)
        }),
    }
}

/// Read a stored event back; its hash is taken as stored (verify checks it).
pub fn parse_item(item: &Item) -> Result<AuditEvent, AuditError> {
    let where_ = || {
        item.get("sk")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let mut body = item
        .get("event")
        .cloned()
        .ok_or_else(|| AuditError::Malformed(where_()))?;
    let hash = item
        .get("hash")
        .cloned()
        .ok_or_else(|| AuditError::Malformed(where_()))?;
    if let Value::Object(map) = &mut body {
        map.insert("hash".into(), hash);
    }
    serde_json::from_value(body).map_err(|_| AuditError::Malformed(where_()))
}

/// 2..~40 ms, growing with the attempt, jittered so racers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 2u64 * u64::from(attempt.min(20));
    Duration::from_millis(base + rand::random_range(0..=base))
}
