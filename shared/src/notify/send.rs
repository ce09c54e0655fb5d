//! Sending one notification to resolved targets, and the passive checks that
//! send nothing.

use std::time::Instant;

use futures::future::join_all;
use serde::Serialize;
use url::Url;

use super::{Integrations, Target, TargetKind};
use crate::outbound::vendor::{
    Notification, github_dispatch, gitlab_trigger, jira_create_issue, jira_myself, slack_auth_test,
    slack_post_message, webhook_deliver,
};
use crate::outbound::{CallResult, Retryability, ssrf};

/// `detail` of a delivery whose call ran out of time (the client's wording,
/// `outbound::client`); such a failure has no status code.
const TIMED_OUT_DETAIL: &str = "timed out";

/// One target's outcome, safe to show and to store: `detail` never holds a
/// secret (the dispatchers scrub it) or a URL query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetResult {
    pub target: TargetKind,
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub detail: String,
    /// Only meaningful when `ok` is false: trying later may succeed.
    pub retryable: bool,
    /// Jira issue key, GitLab pipeline id, Slack message ts, ...
    pub external_id: Option<String>,
    /// The call ran out of time (a gateway timeout rather than a refusal).
    #[serde(skip)]
    pub timed_out: bool,
}

impl TargetResult {
    pub fn from_delivery(target: TargetKind, d: CallResult) -> Self {
        let retryable = d.is_retryable();
        let timed_out = !d.ok && d.status_code.is_none() && d.detail == TIMED_OUT_DETAIL;
        Self {
            target,
            ok: d.ok,
            status_code: d.status_code,
            latency_ms: d.latency_ms,
            detail: d.detail,
            retryable,
            external_id: d.external_id,
            timed_out,
        }
    }
}

/// The overall result of a run over one or more targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every target succeeded.
    Success,
    /// Some targets succeeded, some failed.
    Partial,
    /// Every target failed, at least one without timing out.
    Failed,
    /// Every target failed, each by timing out.
    TimedOut,
}

impl RunOutcome {
    /// `Failed` for an empty list: nothing was delivered.
    pub fn of(results: &[TargetResult]) -> Self {
        let ok = results.iter().filter(|r| r.ok).count();
        if ok == results.len() && ok > 0 {
            Self::Success
        } else if ok > 0 {
            Self::Partial
        } else if !results.is_empty() && results.iter().all(|r| r.timed_out) {
            Self::TimedOut
        } else {
            Self::Failed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
        }
    }
}

/// Sends `notification` to every target at once; results in `targets` order.
/// Each call is bounded by the client's timeouts, so the whole run is too.
pub async fn send(
    integrations: &Integrations,
    targets: &[Target],
    notification: &Notification,
) -> Vec<TargetResult> {
    join_all(
        targets
            .iter()
            .map(|target| send_one(integrations, target, notification)),
    )
    .await
}

async fn send_one(
    integrations: &Integrations,
    target: &Target,
    notification: &Notification,
) -> TargetResult {
    TargetResult::from_delivery(
        target.kind(),
        deliver(integrations, target, notification).await,
    )
}

/// One notification to one target, with the full outcome (a `Retry-After`
/// included) for callers that schedule their own retries.
pub async fn deliver(
    integrations: &Integrations,
    target: &Target,
    notification: &Notification,
) -> CallResult {
    let Integrations { client, endpoints } = integrations;
    let delivery = match target {
        Target::Slack { target, bot_token } => {
            slack_post_message(client, endpoints, bot_token, target, notification).await
        }
        Target::Jira(t) => jira_create_issue(client, t, notification).await,
        Target::Github(t) => github_dispatch(client, endpoints, t, notification).await,
        Target::Gitlab(t) => gitlab_trigger(client, t, notification).await,
        Target::Webhook(t) => webhook_deliver(client, t, notification).await,
    };
    tracing::info!(
        target_kind = target.kind().as_str(),
        event_type = %notification.event_type,
        ok = delivery.ok,
        status = delivery.status_code,
        latency_ms = delivery.latency_ms,
        "notification sent"
    );
    delivery
}

/// A check that posts nothing: Slack `auth.test`, Jira `GET myself`; for the
/// workflow targets only the configuration and the SSRF guard (the URL and
/// what its host resolves to), since any call there would start a pipeline.
pub async fn passive_check(integrations: &Integrations, target: &Target) -> TargetResult {
    let Integrations { client, endpoints } = integrations;
    let kind = target.kind();
    let delivery = match target {
        Target::Slack { bot_token, .. } => slack_auth_test(client, endpoints, bot_token).await,
        Target::Jira(t) => jira_myself(client, t).await,
        Target::Github(_) => {
            url_check(integrations, "GitHub API", endpoints.github_api.as_str()).await
        }
        Target::Gitlab(t) => url_check(integrations, "GitLab base URL", &t.base_url).await,
        Target::Webhook(t) => url_check(integrations, "webhook URL", &t.url).await,
    };
    TargetResult::from_delivery(kind, delivery)
}

async fn url_check(integrations: &Integrations, what: &str, url: &str) -> CallResult {
    let started = Instant::now();
    let policy = integrations.client.policy();
    let outcome = match Url::parse(url.trim()) {
        Err(_) => Err((format!("bad config: {what} is not a valid URL"), false)),
        Ok(url) => ssrf::resolve_checked(&url, &policy)
            .await
            .map(drop)
            .map_err(|refusal| (format!("refused: {refusal}"), refusal.is_transient())),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (ok, detail, retry) = match outcome {
        Ok(()) => (
            true,
            format!("{what} passes the outbound checks; nothing was sent"),
            Retryability::Permanent,
        ),
        Err((detail, true)) => (false, detail, Retryability::Retryable { retry_after: None }),
        Err((detail, false)) => (false, detail, Retryability::Permanent),
    };
    CallResult {
        ok,
        status_code: None,
        latency_ms,
        detail,
        retry,
        external_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(ok: bool, timed_out: bool) -> TargetResult {
        TargetResult {
            target: TargetKind::Webhook,
            ok,
            status_code: None,
            latency_ms: 1,
            detail: String::new(),
            retryable: false,
            external_id: None,
            timed_out,
        }
    }

    #[test]
    fn outcome_follows_the_results() {
        assert_eq!(RunOutcome::of(&[result(true, false)]), RunOutcome::Success);
        assert_eq!(
            RunOutcome::of(&[result(true, false), result(false, false)]),
            RunOutcome::Partial
        );
        assert_eq!(
            RunOutcome::of(&[result(false, true), result(false, false)]),
            RunOutcome::Failed
        );
        assert_eq!(
            RunOutcome::of(&[result(false, true), result(false, true)]),
            RunOutcome::TimedOut
        );
        assert_eq!(RunOutcome::of(&[]), RunOutcome::Failed);
    }

    #[test]
    fn a_timeout_is_recognised_from_the_delivery() {
        let timeout = CallResult {
            ok: false,
            status_code: None,
            latency_ms: 50,
            detail: TIMED_OUT_DETAIL.into(),
            retry: Retryability::Retryable { retry_after: None },
            external_id: None,
        };
        let r = TargetResult::from_delivery(TargetKind::Jira, timeout.clone());
        assert!(r.timed_out && r.retryable);
        let answered = CallResult {
            status_code: Some(504),
            ..timeout
        };
        assert!(!TargetResult::from_delivery(TargetKind::Jira, answered).timed_out);
        let config = CallResult::bad_config("timed out");
        assert!(!TargetResult::from_delivery(TargetKind::Jira, config).timed_out);
    }
}
