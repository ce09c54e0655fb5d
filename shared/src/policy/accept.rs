//! Accepting a policy event: validate, choose the targets, and write the
//! event, one pending delivery per target and the audit event in one
//! transaction. The same event id again answers the current state.

use serde_json::{Value, json};

use super::{
    Channel, Delivery, DeliveryStatus, EVENT_SK, PolicyEvent, PolicyEventInput, delivery_sk, due,
    event_pk,
};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent};
use crate::settings::{self, NotificationSettings, SecretField};
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, Query, SortKey, Store, StoreError, WriteOp};
use crate::tenancy::{self, Tier};
use crate::validate::FieldViolation;

/// An event and its deliveries as stored now.
#[derive(Debug, Clone)]
pub struct EventState {
    pub event: PolicyEvent,
    pub deliveries: Vec<(Delivery, u64)>,
}

#[derive(Debug)]
pub enum Accepted {
    /// Written now: 202.
    Created(EventState),
    /// The same event was accepted before: 200 with its current state.
    Existing(EventState),
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("invalid policy event")]
    Invalid(Vec<FieldViolation>),
    #[error("tenant {0} not found")]
    UnknownTenant(String),
    #[error("event id {0} was already used for a different event")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

pub async fn load_state(
    store: &dyn Store,
    event_id: &str,
) -> Result<Option<EventState>, StoreError> {
    let mut query = Query::new(event_pk(event_id), SortKey::All);
    query.limit = 20;
    let items = store.query(query).await?.items;
    let mut event = None;
    let mut deliveries = Vec::new();
    for item in &items {
        match item.get("sk").and_then(Value::as_str) {
            Some(EVENT_SK) => event = Some(from_item::<StoredEvent>(item)?.0.event),
            Some(sk) if sk.starts_with("DELIVERY#") => {
                deliveries.push(from_item::<Delivery>(item)?)
            }
            _ => {}
        }
    }
    deliveries.sort_by_key(|(d, _)| d.channel);
    Ok(event.map(|event| EventState { event, deliveries }))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredEvent {
    event: PolicyEvent,
    content_hash: String,
    received_at: String,
}

fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "invalid-url".into())
}

/// The tenant's targets for this decision, described without secrets.
pub fn targets(
    event: &PolicyEvent,
    s: &NotificationSettings,
    tier: Tier,
) -> Vec<(Channel, String)> {
    let mut out = Vec::new();
    let gated = tier >= Tier::Pro;
    if event.decision.is_alert() {
        if let (true, Some(channel)) = (s.slack_enabled, &s.slack_channel_override) {
            out.push((Channel::Slack, channel.clone()));
        }
        if gated
            && s.jira_enabled
            && let (Some(key), Some(base)) = (&s.jira_project_key, &s.jira_base_url)
        {
            out.push((Channel::Jira, format!("{key} @ {}", host(base))));
        }
    }
    if gated && (event.decision.is_alert() || s.workflow_notify_on_warn_allow) {
        if s.workflow_github_enabled
            && s.has(SecretField::GithubToken)
            && let (Some(owner), Some(repo)) = (&s.workflow_github_owner, &s.workflow_github_repo)
        {
            out.push((Channel::GithubActions, format!("{owner}/{repo}")));
        }
        if s.workflow_gitlab_enabled
            && s.has(SecretField::GitlabTriggerToken)
            && let Some(project) = &s.workflow_gitlab_project_id
        {
            let base = host(&s.workflow_gitlab_base_url);
            out.push((Channel::GitlabCi, format!("{project} @ {base}")));
        }
        if s.workflow_webhook_enabled
            && let Some(url) = &s.workflow_webhook_url
        {
            out.push((Channel::Webhook, host(url)));
        }
    }
    out
}

pub async fn accept(
    store: &dyn Store,
    audit: &AuditLog,
    input: PolicyEventInput,
) -> Result<Accepted, AcceptError> {
    let event = input.validate().map_err(AcceptError::Invalid)?;
    let hash = event.content_hash();
    if let Some(state) = load_state(store, &event.event_id).await? {
        return same_or_conflict(state, &hash);
    }
    let tenant = tenancy::get_tenant(store, &event.tenant_id)
        .await?
        .ok_or_else(|| AcceptError::UnknownTenant(event.tenant_id.clone()))?;
    let (settings, _) = settings::load(store, &tenant.id).await?;
    let now = chrono::Utc::now();
    let pk = event_pk(&event.event_id);
    let stored = StoredEvent {
        event: event.clone(),
        content_hash: hash.clone(),
        received_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let mut ops = vec![WriteOp::Put {
        item: to_item(&pk, EVENT_SK, 1, &stored),
        condition: Condition::NotExists,
    }];
    let mut deliveries = Vec::new();
    for (channel, target) in targets(&event, &settings, tenant.tier) {
        let delivery = Delivery {
            delivery_id: format!("{}:{}", event.event_id, channel.as_str()),
            event_id: event.event_id.clone(),
            tenant_id: tenant.id.clone(),
            channel,
            target,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            // A safety net: if no trigger picks it up, the sweep will.
            due_at: Some(now.timestamp() + due::SAFETY_NET_SECONDS),
            external_id: None,
            claims: 0,
            redriven_after: 0,
        };
        ops.push(WriteOp::Put {
            item: to_item(&pk, &delivery_sk(channel), 1, &delivery),
            condition: Condition::NotExists,
        });
        ops.push(due::entry_put(&delivery));
        deliveries.push((delivery, 1));
    }
    let audit_event = NewEvent {
        tenant_id: tenant.id.clone(),
        event_type: "policy.accepted".into(),
        actor: Actor::AdminKey,
        request_id: event.request_id.clone(),
        resource: Some(format!("policy-event/{}", event.event_id)),
        success: true,
        details: json!({
            "event_id": event.event_id,
            "decision": event.decision,
            "action": event.action,
            "resource_id": event.resource_id,
            "channels": deliveries.iter().map(|(d, _)| d.channel.as_str()).collect::<Vec<_>>(),
        }),
    };
    match audit.append_with(audit_event, ops).await {
        Ok(_) => Ok(Accepted::Created(EventState { event, deliveries })),
        // Another request with this id won the race: judge against what it wrote.
        Err(AuditError::Store(StoreError::TransactionConditionFailed { index: 0, .. })) => {
            let state = load_state(store, &event.event_id)
                .await?
                .ok_or(AcceptError::Store(StoreError::TransactionConflict))?;
            same_or_conflict(state, &hash)
        }
        Err(e) => Err(e.into()),
    }
}

fn same_or_conflict(state: EventState, hash: &str) -> Result<Accepted, AcceptError> {
    if state.event.content_hash() == hash {
        Ok(Accepted::Existing(state))
    } else {
        Err(AcceptError::Conflict(state.event.event_id))
    }
}
