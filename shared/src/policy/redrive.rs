//! An operator's redrive of a dead delivery (docs/deploy.md, "Dead
//! letters"), once its target is fixed: back to `retrying`, due at once, with
//! a fresh budget of attempts, in one audited transaction. The dispatcher's
//! next sweep sends it with the same idempotency key (`<event>:<channel>`),
//! so a target that dedups still acts once, and the other channels of the
//! event are not touched.

use serde_json::json;

use super::{Channel, Delivery, DeliveryStatus, delivery_sk, due, event_pk};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent};
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, Store, StoreError, WriteOp};

/// What a redrive found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redrive {
    /// Dead, now due again.
    Redriven,
    /// Not dead (delivered, or already on its way): nothing to do.
    NotDead(DeliveryStatus),
    /// No such delivery (another table, or a record that never existed).
    Missing,
}

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

pub async fn redrive(
    store: &dyn Store,
    audit: &AuditLog,
    event_id: &str,
    channel: Channel,
    now: i64,
) -> Result<Redrive, RedriveError> {
    let pk = event_pk(event_id);
    let Some(item) = store.get(&pk, &delivery_sk(channel)).await? else {
        return Ok(Redrive::Missing);
    };
    let (mut delivery, version): (Delivery, u64) = from_item(&item)?;
    if delivery.status != DeliveryStatus::Dead {
        return Ok(Redrive::NotDead(delivery.status));
    }
    let dead_after = delivery.attempts.len() as u32;
    delivery.status = DeliveryStatus::Retrying;
    delivery.due_at = Some(now);
    delivery.redriven_after = dead_after;
    let ops = vec![
        WriteOp::Put {
            item: to_item(&pk, &delivery_sk(channel), version + 1, &delivery),
            condition: Condition::VersionEquals(version),
        },
        due::entry_put(&delivery),
    ];
    let event = NewEvent {
        tenant_id: delivery.tenant_id.clone(),
        event_type: "policy.delivery_redriven".into(),
        actor: Actor::System,
        request_id: None,
        resource: Some(format!("policy-delivery/{}", delivery.delivery_id)),
        success: true,
        details: json!({"event_id": event_id, "channel": channel, "attempts_before": dead_after}),
    };
    audit.append_with(event, ops).await?;
    Ok(Redrive::Redriven)
}
