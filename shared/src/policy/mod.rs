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
pub mod deadletter;
pub mod dispatch;
pub mod due;
mod model;
pub mod send;

use serde::{Deserialize, Serialize};

pub use accept::{AcceptError, Accepted, EventState, accept, load_state, targets};
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
}
