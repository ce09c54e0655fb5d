//! Moving one delivery forward: claim it with a conditional state change,
//! send it, record the attempt. A delivered or dead delivery is never sent
//! again, whatever replays its trigger; a claim whose worker died lapses and
//! the sweep takes it over (the target sees the same idempotency key again).

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use serde_json::json;

use super::{
    Attempt, Channel, Delivery, DeliveryStatus, EVENT_SK, PolicyEvent, delivery_sk, due, event_pk,
};
use crate::audit::{Actor, AuditLog, NewEvent};
use crate::metrics::{self, Unit};
use crate::outbound::{CallResult, Retryability};
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, Store, StoreError, WriteOp};

/// The `Service` dimension of the dispatcher's metrics (template.yaml's alarms).
pub const METRICS_SERVICE: &str = "dispatcher";

/// Attempts before a delivery is declared dead.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a claim holds before another worker may take the delivery over.
pub const CLAIM_SECONDS: i64 = 60;
/// Deliveries moved forward at once. An event's targets (five at most) are
/// sent side by side, so one slow target does not delay the others; the
/// audit chain takes the concurrent records (it retries its head).
const CONCURRENCY: usize = 8;
const BASE_BACKOFF_SECONDS: f64 = 2.0;
const MAX_BACKOFF_SECONDS: i64 = 900;

/// Sends one delivery of one event to its target.
#[async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, event: &PolicyEvent, delivery: &Delivery) -> CallResult;
}

/// Where deliveries that never succeed are parked for an operator.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn publish(&self, delivery: &Delivery) -> Result<(), String>;
}

/// What one call did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: already delivered or dead, not due, or claimed elsewhere.
    Skipped,
    Delivered,
    Retrying,
    Dead,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored policy event {0} is missing")]
    MissingEvent(String),
}

/// Exponential backoff with full jitter, at least what `Retry-After` asked.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> i64 {
    let ceiling = (BASE_BACKOFF_SECONDS * 2f64.powi(attempt.saturating_sub(1) as i32))
        .min(MAX_BACKOFF_SECONDS as f64);
    let jittered = (ceiling / 2.0 + rand::random::<f64>() * ceiling / 2.0).ceil() as i64;
    let asked = retry_after.map_or(0, |d| d.as_secs() as i64);
    jittered.max(asked).clamp(1, MAX_BACKOFF_SECONDS.max(asked))
}

pub struct Dispatcher<'a> {
    pub store: &'a dyn Store,
    pub audit: &'a AuditLog,
    pub sender: &'a dyn Sender,
    pub dead_letters: &'a dyn DeadLetters,
}

impl Dispatcher<'_> {
    /// Try `event_id`'s delivery to `channel` once, if it is due at `now`.
    pub async fn process(
        &self,
        event_id: &str,
        channel: Channel,
        now: i64,
    ) -> Result<Step, DispatchError> {
        let pk = event_pk(event_id);
        let Some(item) = self.store.get(&pk, &delivery_sk(channel)).await? else {
            return Ok(Step::Skipped);
        };
        let (mut delivery, version): (Delivery, u64) = from_item(&item)?;
        let claimable = match delivery.status {
            DeliveryStatus::Pending => true,
            DeliveryStatus::Retrying | DeliveryStatus::InFlight => {
                delivery.due_at.is_none_or(|at| at <= now)
            }
            DeliveryStatus::Delivered | DeliveryStatus::Dead => false,
        };
        if !claimable {
            return Ok(Step::Skipped);
        }
        // Claim: only one worker moves this version forward.
        let old_due = delivery.clone();
        delivery.status = DeliveryStatus::InFlight;
        delivery.due_at = Some(now + CLAIM_SECONDS);
        delivery.claims += 1;
        let mut claim = vec![WriteOp::Put {
            item: to_item(&pk, &delivery_sk(channel), version + 1, &delivery),
            condition: Condition::VersionEquals(version),
        }];
        claim.extend(due::entry_move(&old_due, &delivery));
        match self.store.transact(claim).await {
            Ok(()) => {}
            Err(
                StoreError::TransactionConditionFailed { .. } | StoreError::TransactionConflict,
            ) => return Ok(Step::Skipped),
            Err(e) => return Err(e.into()),
        }
        let claimed = version + 1;
        let event = self.event(event_id).await?;
        let outcome = self.sender.send(&event, &delivery).await;
        self.record(event, delivery, claimed, outcome, now).await
    }

    /// [`Self::process`] for each `(event id, channel)`, concurrently; the
    /// answers come in the order asked. One failing delivery stops no other.
    pub async fn process_all(
        &self,
        deliveries: Vec<(String, Channel)>,
        now: i64,
    ) -> Vec<(String, Channel, Result<Step, DispatchError>)> {
        stream::iter(deliveries)
            .map(|(event_id, channel)| async move {
                let step = self.process(&event_id, channel, now).await;
                (event_id, channel, step)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await
    }

    async fn event(&self, event_id: &str) -> Result<PolicyEvent, DispatchError> {
        #[derive(serde::Deserialize)]
        struct Stored {
            event: PolicyEvent,
        }
        let item = self
            .store
            .get(&event_pk(event_id), EVENT_SK)
            .await?
            .ok_or_else(|| DispatchError::MissingEvent(event_id.to_owned()))?;
        Ok(from_item::<Stored>(&item)?.0.event)
    }

    async fn record(
        &self,
        event: PolicyEvent,
        mut delivery: Delivery,
        version: u64,
        outcome: CallResult,
        now: i64,
    ) -> Result<Step, DispatchError> {
        let claimed = delivery.clone();
        let number = delivery.attempts.len() as u32 + 1;
        let retry_after = match outcome.retry {
            Retryability::Retryable { retry_after } => Some(retry_after),
            Retryability::Permanent => None,
        };
        let step = if outcome.ok {
            Step::Delivered
        } else if retry_after.is_some()
            && number.saturating_sub(delivery.redriven_after) < MAX_ATTEMPTS
        {
            Step::Retrying
        } else {
            Step::Dead
        };
        delivery.attempts.push(Attempt {
            number,
            at: chrono::DateTime::from_timestamp(now, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            outcome: match (outcome.ok, retry_after.is_some()) {
                (true, _) => "delivered",
                (false, true) => "retryable_failure",
                (false, false) => "permanent_failure",
            }
            .into(),
            status_code: outcome.status_code,
            latency_ms: outcome.latency_ms,
            detail: outcome.detail.clone(),
        });
        match step {
            Step::Delivered => {
                delivery.status = DeliveryStatus::Delivered;
                delivery.external_id = outcome.external_id.clone();
                delivery.due_at = None;
            }
            Step::Retrying => {
                delivery.status = DeliveryStatus::Retrying;
                delivery.due_at = Some(now + backoff(number, retry_after.flatten()));
            }
            _ => {
                delivery.status = DeliveryStatus::Dead;
                delivery.due_at = None;
            }
        }
        let pk = event_pk(&delivery.event_id);
        let mut ops = vec![WriteOp::Put {
            item: to_item(&pk, &delivery_sk(delivery.channel), version + 1, &delivery),
            condition: Condition::VersionEquals(version),
        }];
        // A retry whose backoff lands on the claim's second keeps its entry.
        if step == Step::Retrying {
            ops.extend(due::entry_move(&claimed, &delivery));
        } else {
            ops.push(due::entry_delete(&claimed));
        }
        let audit_event = NewEvent {
            tenant_id: delivery.tenant_id.clone(),
            event_type: format!(
                "policy.delivery_{}",
                match step {
                    Step::Delivered => "delivered",
                    Step::Retrying => "retrying",
                    _ => "dead",
                }
            ),
            actor: Actor::System,
            request_id: event.request_id.clone(),
            resource: Some(format!("policy-delivery/{}", delivery.delivery_id)),
            success: outcome.ok,
            details: json!({
                "event_id": delivery.event_id, "channel": delivery.channel, "attempt": number,
                "status_code": outcome.status_code, "latency_ms": outcome.latency_ms,
                "detail": outcome.detail, "external_id": outcome.external_id, "due_at": delivery.due_at,
            }),
        };
        match self.audit.append_with(audit_event, ops).await {
            Ok(_) => {}
            // Our claim lapsed and another worker moved on: it owns the outcome now.
            Err(crate::audit::AuditError::Store(StoreError::TransactionConditionFailed {
                ..
            })) => {
                tracing::warn!(delivery = %delivery.delivery_id, "claim lapsed before the attempt was recorded");
                return Ok(Step::Skipped);
            }
            Err(crate::audit::AuditError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(StoreError::Unavailable(e.to_string()).into()),
        }
        if step == Step::Dead
            && let Err(why) = self.dead_letters.publish(&delivery).await
        {
            tracing::error!(delivery = %delivery.delivery_id, error = %why, "dead-letter publish failed; the delivery stays marked dead");
        }
        let name = match step {
            Step::Delivered => "DeliveriesDelivered",
            Step::Retrying => "DeliveriesRetried",
            _ => "DeliveriesDead",
        };
        metrics::count(
            METRICS_SERVICE,
            name,
            metrics::props([
                ("event_id", json!(delivery.event_id)),
                ("channel", json!(delivery.channel)),
                ("attempt", json!(number)),
            ]),
        );
        Ok(step)
    }

    async fn is_final(&self, event_id: &str, channel: Channel) -> Result<bool, DispatchError> {
        Ok(
            match self
                .store
                .get(&event_pk(event_id), &delivery_sk(channel))
                .await?
            {
                Some(item) => matches!(
                    from_item::<Delivery>(&item)?.0.status,
                    DeliveryStatus::Delivered | DeliveryStatus::Dead
                ),
                None => true,
            },
        )
    }

    async fn sweep_one(
        &self,
        entry: due::DueEntry,
        now: i64,
    ) -> Result<(String, Channel, Step), DispatchError> {
        let step = self.process(&entry.event_id, entry.channel, now).await?;
        if step == Step::Skipped && self.is_final(&entry.event_id, entry.channel).await? {
            // Left behind by a worker that died after recording the outcome.
            due::remove(self.store, &entry.sk).await?;
        }
        Ok((entry.event_id, entry.channel, step))
    }

    /// Everything due at `now`: retries, lapsed claims, deliveries no trigger took.
    pub async fn sweep(&self, now: i64) -> Result<Vec<(String, Channel, Step)>, DispatchError> {
        let mut done = Vec::new();
        let mut cursor = None;
        let mut first_page = true;
        loop {
            let (due, next) = due::due_now(self.store, now, 100, cursor).await?;
            if std::mem::take(&mut first_page) {
                // Oldest first: how long the backlog's head has waited past its time.
                let age = due.first().map_or(0, |entry| (now - entry.due_at).max(0));
                metrics::emit(
                    METRICS_SERVICE,
                    &[("DispatchBacklogAgeSeconds", age as f64, Unit::Seconds)],
                    metrics::props([("due_on_first_page", json!(due.len()))]),
                );
            }
            let page: Vec<_> = stream::iter(due)
                .map(|entry| self.sweep_one(entry, now))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            for swept in page {
                done.push(swept?);
            }
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(done),
            }
        }
    }
}
