//! The per-channel notification logic, written once for every caller: the
//! test endpoints, the acceptance-evidence run (passive checks) and the policy
//! fan-out.
//!
//! - [`Integrations`]: the outbound client and vendor endpoints, built once per
//!   cold start (feature `outbound`, as everything that calls out);
//! - [`resolve`] (and [`slack_target`], [`jira_target`], [`workflow_targets`]):
//!   a tenant's settings to ready-to-call [`Target`]s, or [`NotConfigured`]
//!   saying exactly what is missing;
//! - [`send`]: one [`Notification`] to each target (concurrently), one
//!   [`TargetResult`] each; [`passive_check`]: a check that sends no message;
//! - [`test_notification`]: the clearly labelled `<channel>.connectivity_test` event.

#[cfg(feature = "outbound")]
mod integrations;
#[cfg(feature = "outbound")]
mod resolve;
#[cfg(feature = "outbound")]
mod send;

#[cfg(feature = "outbound")]
use std::collections::BTreeMap;

use serde::Serialize;

#[cfg(feature = "outbound")]
use crate::outbound::vendor::Notification;
use crate::tenancy::Tier;

#[cfg(feature = "outbound")]
pub use integrations::Integrations;
#[cfg(feature = "outbound")]
pub use resolve::{NotConfigured, Target, jira_target, resolve, slack_target, workflow_targets};
#[cfg(feature = "outbound")]
pub use send::{RunOutcome, TargetResult, deliver, passive_check, send};

/// What a tenant asks to be notified through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Slack,
    Jira,
    /// GitHub Actions, GitLab CI and the generic webhook, together.
    Workflow,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Self::Slack, Self::Jira, Self::Workflow];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Jira => "jira",
            Self::Workflow => "workflow",
        }
    }

    /// For people: "Slack", "Jira", "Workflow".
    pub fn label(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Jira => "Jira",
            Self::Workflow => "Workflow",
        }
    }

    /// The tier and feature name a channel needs, when it is gated. Jira and
    /// the workflow targets are `incident_integrations` (pro and up), the same
    /// gate the settings PUT applies.
    pub fn required_tier(self) -> Option<(Tier, &'static str)> {
        match self {
            Self::Slack => None,
            Self::Jira | Self::Workflow => Some((Tier::Pro, "incident_integrations")),
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One concrete destination.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Slack,
    Jira,
    GithubActions,
    GitlabCi,
    Webhook,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Jira => "jira",
            Self::GithubActions => "github_actions",
            Self::GitlabCi => "gitlab_ci",
            Self::Webhook => "webhook",
        }
    }

    pub fn channel(self) -> Channel {
        match self {
            Self::Slack => Channel::Slack,
            Self::Jira => Channel::Jira,
            Self::GithubActions | Self::GitlabCi | Self::Webhook => Channel::Workflow,
        }
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The audit event type of a test call (`POST …/test-slack|jira|workflow`).
pub const TEST_AUDIT_EVENT_TYPE: &str = "notification.test";

/// The event type a connectivity test carries to its receiver: what a
/// tenant's CI rule or webhook handler matches on (`workflow.connectivity_test`
/// as the system Valdrix replaces sent it, and as
/// docs/integrations/workflow_automation.md documents it). Not the audit
/// record's type ([`TEST_AUDIT_EVENT_TYPE`]).
pub fn test_event_type(channel: Channel) -> &'static str {
    match channel {
        Channel::Slack => "slack.connectivity_test",
        Channel::Jira => "jira.connectivity_test",
        Channel::Workflow => "workflow.connectivity_test",
    }
}

#[cfg(feature = "outbound")]
/// The connectivity-test event for `channel`: clearly labelled, no user data
/// (no email), `run_id` as its request id and idempotency key (so a webhook
/// receiver sees it as `webhook-id`).
pub fn test_notification(channel: Channel, tenant_id: &str, run_id: &str) -> Notification {
    Notification {
        event_type: test_event_type(channel).into(),
        tenant_id: tenant_id.to_owned(),
        request_id: Some(run_id.to_owned()),
        title: format!("Valdrix connectivity test: {}", channel.label()),
        summary: format!(
            "This is a test event from Valdrix, sent from the notification settings to check \
             the {} integration. No action is needed.",
            channel.label()
        ),
        decision: None,
        action: "connectivity_test".into(),
        resource_id: format!("integration/{channel}"),
        severity: Some("info".into()),
        evidence_links: BTreeMap::new(),
        idempotency_key: run_id.to_owned(),
        retry: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_names() {
        for (kind, name) in [
            (TargetKind::Slack, "slack"),
            (TargetKind::Jira, "jira"),
            (TargetKind::GithubActions, "github_actions"),
            (TargetKind::GitlabCi, "gitlab_ci"),
            (TargetKind::Webhook, "webhook"),
        ] {
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
        }
        assert_eq!(serde_json::to_value(Channel::Workflow).unwrap(), "workflow");
        assert_eq!(Channel::Slack.required_tier(), None);
        assert_eq!(
            Channel::Jira.required_tier(),
            Some((Tier::Pro, "incident_integrations"))
        );
    }

    #[test]
    #[cfg(feature = "outbound")]
    fn test_event_is_labelled_and_carries_the_run_id() {
        let n = test_notification(Channel::Jira, "acme", "run-1");
        assert_eq!(n.event_type, "jira.connectivity_test");
        let w = test_notification(Channel::Workflow, "acme", "run-1");
        assert_eq!(w.event_type, "workflow.connectivity_test");
        assert!(n.title.starts_with("Valdrix connectivity test"));
        assert_eq!(n.request_id.as_deref(), Some("run-1"));
        assert_eq!(n.idempotency_key, "run-1");
        assert_eq!(n.resource_id, "integration/jira");
        assert!(!n.summary.contains('@'));
    }
}
