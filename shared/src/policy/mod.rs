//! Policy events: a `block` or `escalate` decision fanned out to a tenant's
//! integrations durably and exactly once per channel.
//!
//! Layout: `POLICY#<event_id>` / `EVENT` holds the event (event ids are
//! unique across tenants, so a replay is recognised whoever sends it), and
//! `POLICY#<event_id>` / `DELIVERY#<channel>` one delivery per target. Accepting
//! writes them all, plus the audit event, in one transaction (the outbox);
//! the dispatcher then moves each delivery through
//! `pending → in_flight → delivered | retrying → … → dead`.

mod accept;
#[cfg(feature = "outbound")]
pub mod deadletter;
#[cfg(feature = "outbound")]
pub mod dispatch;
pub mod due;
#[cfg(all(feature = "outbound", feature = "http"))]
pub mod inline;
mod model;
pub mod redrive;
#[cfg(feature = "outbound")]
pub mod send;

use serde::{Deserialize, Serialize};

pub use accept::{AcceptError, Accepted, EventState, accept, load_state, targets};

/// The route policy decisions are posted to.
pub const EVENTS_PATH: &str = "/api/v1/policy/events";
pub use model::{Decision, PolicyEvent, PolicyEventInput};

pub fn event_pk(event_id: &str) -> String {
    format!("POLICY#{event_id}")
}

pub const EVENT_SK: &str = "EVENT";

pub fn delivery_sk(channel: Channel) -> String {
    format!("DELIVERY#{}", channel.as_str())
}

/// A delivery goes to one concrete target of the tenant's integrations.
pub use crate::notify::TargetKind as Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    InFlight,
    Retrying,
    Delivered,
    Dead,
}

/// One try at one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    pub at: String,
    /// delivered, retryable_failure or permanent_failure.
    pub outcome: String,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<event_id>:<channel>`: also the idempotency key the target sees
    /// (`webhook-id`), the same on every attempt.
    pub delivery_id: String,
    pub event_id: String,
    pub tenant_id: String,
    pub channel: Channel,
    /// What it goes to, without secrets: a channel, project, repo or host.
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    /// Unix seconds: when a retrying delivery is due, or when an in-flight
    /// claim lapses (its worker is then taken to have died).
    pub due_at: Option<i64>,
    /// What the target returned for a delivered event (a Jira issue key, say).
    pub external_id: Option<String>,
    /// Times a worker claimed it. A claim that left no attempt behind was a
    /// worker that died, perhaps after sending (see [`Delivery::may_have_reached`]).
    #[serde(default)]
    pub claims: u32,
    /// Attempts made before an operator redrove it ([`redrive`]): the attempt
    /// budget counts from here.
    #[serde(default)]
    pub redriven_after: u32,
}

impl Delivery {
    /// Whether an earlier try may have reached the target, as the current
    /// claim's sender sees it: the last attempt failed retryably (a timeout,
    /// a 5xx), or an earlier claim recorded no attempt at all.
    pub fn may_have_reached(&self) -> bool {
        let retryable = self
            .attempts
            .last()
            .is_some_and(|a| a.outcome == "retryable_failure");
        let unrecorded = self.claims.saturating_sub(1) as usize > self.attempts.len();
        retryable || unrecorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(claims: u32, outcomes: &[&str]) -> Delivery {
        Delivery {
            delivery_id: "e:jira".into(),
            event_id: "e".into(),
            tenant_id: "t".into(),
            channel: Channel::Jira,
            target: "OPS".into(),
            status: DeliveryStatus::InFlight,
            attempts: (1..)
                .zip(outcomes)
                .map(|(number, outcome)| Attempt {
                    number,
                    at: "2026-11-27T00:00:00Z".into(),
                    outcome: (*outcome).into(),
                    status_code: None,
                    latency_ms: 0,
                    detail: String::new(),
                })
                .collect(),
            due_at: None,
            external_id: None,
            claims,
            redriven_after: 0,
        }
    }

    #[test]
    fn an_earlier_try_may_have_reached_the_target() {
        // The sender sees its own claim counted.
        assert!(!delivery(1, &[]).may_have_reached(), "first try");
        assert!(delivery(2, &["retryable_failure"]).may_have_reached());
        assert!(!delivery(2, &["permanent_failure"]).may_have_reached());
        assert!(delivery(2, &[]).may_have_reached(), "a worker died");
        assert!(delivery(3, &["permanent_failure"]).may_have_reached());
        // Stored before claims were counted: only the attempts say.
        assert!(!delivery(0, &[]).may_have_reached());
    }

    /// A transaction may touch a key once: moving a due entry to the second
    /// it is already at writes nothing (a backoff equal to the claim time).
    #[test]
    fn a_due_entry_moved_to_its_own_second_is_left_alone() {
        let mut from = delivery(1, &[]);
        from.due_at = Some(1_000);
        let mut to = from.clone();
        to.due_at = Some(1_000);
        assert!(due::entry_move(&from, &to).is_empty());
        to.due_at = Some(1_060);
        assert_eq!(due::entry_move(&from, &to).len(), 2);
    }
}
