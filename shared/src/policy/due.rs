//! The due index: one `DUE` / `<unix seconds>#<event_id>#<channel>` entry per
//! delivery that must be looked at again — a retry that is due, a claim that
//! lapses if its worker dies, a pending delivery no trigger picked up. The
//! sweep reads it in time order; no table scan is ever needed.

use serde_json::{Value, json};

use super::{Channel, Delivery};
use crate::store::{Condition, Cursor, Query, SortKey, Store, StoreError, WriteOp};

const PK: &str = "DUE";
/// A pending delivery is swept after this long if nothing dispatched it.
pub const SAFETY_NET_SECONDS: i64 = 120;

fn sk(due_at: i64, event_id: &str, channel: Channel) -> String {
    format!("{due_at:012}#{event_id}#{}", channel.as_str())
}

/// The entry for `delivery` at its `due_at` (nothing when it has none).
pub fn entry_put(delivery: &Delivery) -> WriteOp {
    let due_at = delivery.due_at.unwrap_or(0);
    let item = json!({
        "pk": PK,
        "sk": sk(due_at, &delivery.event_id, delivery.channel),
        "event_id": delivery.event_id,
        "channel": delivery.channel,
    });
    WriteOp::Put {
        item: item.as_object().cloned().unwrap_or_default(),
        condition: Condition::None,
    }
}

/// Move `from`'s entry to `to`'s due time: nothing when both fall on the
/// same second (one transaction may not touch a key twice; the entry stays).
pub fn entry_move(from: &Delivery, to: &Delivery) -> Vec<WriteOp> {
    if from.due_at.unwrap_or(0) == to.due_at.unwrap_or(0)
        && from.event_id == to.event_id
        && from.channel == to.channel
    {
        return Vec::new();
    }
    vec![entry_delete(from), entry_put(to)]
}

pub fn entry_delete(delivery: &Delivery) -> WriteOp {
    WriteOp::Delete {
        pk: PK.into(),
        sk: sk(
            delivery.due_at.unwrap_or(0),
            &delivery.event_id,
            delivery.channel,
        ),
        condition: Condition::None,
    }
}

/// One due entry: its sort key (to remove a stale one) and what it points at.
pub struct DueEntry {
    pub sk: String,
    /// When it fell due (unix seconds), from the sort key.
    pub due_at: i64,
    pub event_id: String,
    pub channel: Channel,
}

/// Remove an entry whose delivery needs nothing more.
pub async fn remove(store: &dyn Store, sk: &str) -> Result<(), StoreError> {
    store.delete(PK, sk, Condition::None).await
}

/// Deliveries due at or before `now`, oldest first, one page.
pub async fn due_now(
    store: &dyn Store,
    now: i64,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<DueEntry>, Option<Cursor>), StoreError> {
    let mut query = Query::new(
        PK,
        SortKey::Between(format!("{:012}", 0), format!("{now:012}#~")),
    );
    query.limit = limit;
    query.cursor = cursor;
    let page = store.query(query).await?;
    let due = page
        .items
        .iter()
        .filter_map(|item| {
            let sk = item.get("sk").and_then(Value::as_str)?;
            Some(DueEntry {
                due_at: sk.get(..12)?.parse().ok()?,
                sk: sk.to_owned(),
                event_id: item.get("event_id").and_then(Value::as_str)?.to_owned(),
                channel: serde_json::from_value(item.get("channel")?.clone()).ok()?,
            })
        })
        .collect();
    Ok((due, page.next_cursor))
}
