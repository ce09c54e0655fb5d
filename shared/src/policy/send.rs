//! Sending one policy delivery through the same dispatchers the test calls
//! use. The target is resolved from the tenant's settings at send time, so a
//! changed token is used and a removed target is not called.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::dispatch::Sender;
use super::{Delivery, PolicyEvent};
use crate::notify;
use crate::outbound::CallResult;
use crate::outbound::vendor::Notification;
use crate::settings;
use crate::state::Notifying;

/// What every channel receives for a policy decision.
pub fn notification(event: &PolicyEvent, delivery: &Delivery) -> Notification {
    let decision = event.decision.as_str();
    Notification {
        event_type: format!("policy.{decision}"),
        tenant_id: event.tenant_id.clone(),
        request_id: event.request_id.clone(),
        title: format!(
            "[Valdrix Policy {}] {} on {}",
            decision.to_uppercase(),
            event.action,
            event.resource_id
        ),
        summary: event.summary.clone(),
        decision: Some(decision.to_owned()),
        action: event.action.clone(),
        resource_id: event.resource_id.clone(),
        severity: event.severity.clone(),
        evidence_links: event
            .evidence_links
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        idempotency_key: delivery.delivery_id.clone(),
        retry: delivery.may_have_reached(),
    }
}

/// Sends through the integrations, reading the tenant's settings at send time.
pub struct NotifySender(pub Notifying);

#[async_trait]
impl Sender for NotifySender {
    async fn send(&self, event: &PolicyEvent, delivery: &Delivery) -> CallResult {
        let state = &self.0;
        let settings = match settings::load(state.core.store.as_ref(), &delivery.tenant_id).await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::error!(error = %e, "settings unreadable for a delivery");
                return CallResult::retryable(
                    "store unavailable while reading the tenant's settings",
                );
            }
        };
        let targets = notify::resolve(
            delivery.channel.channel(),
            &settings,
            &state.core.config,
            &state.keys,
            &delivery.tenant_id,
        );
        let Some(target) = targets
            .ok()
            .and_then(|t| t.into_iter().find(|t| t.kind() == delivery.channel))
        else {
            return CallResult::bad_config("the target is no longer configured for this tenant");
        };
        notify::deliver(&state.integrations, &target, &notification(event, delivery)).await
    }
}
