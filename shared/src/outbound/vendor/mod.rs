//! One plain async fn per integration. Each takes the client, the target's
//! settings and a neutral [`Notification`], and returns a [`CallResult`] whose
//! detail has been scrubbed of that target's secrets.

mod github;
mod gitlab;
mod jira;
mod slack;
mod webhook;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

use super::call_result::{CallResult, cut};

pub use github::{GithubTarget, github_dispatch};
pub use gitlab::{GITLAB_COM, GitlabTarget, gitlab_trigger};
pub use jira::{JiraTarget, jira_create_issue, jira_myself};
pub use slack::{SlackTarget, slack_auth_test, slack_post_message};
pub use webhook::{WebhookTarget, webhook_deliver};

/// Base URLs of the fixed vendor APIs; tests point them at a local fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub slack_api: Url,
    pub github_api: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            slack_api: Url::parse("https://slack.com/api/").expect("constant URL"),
            github_api: Url::parse("https://api.github.com/").expect("constant URL"),
        }
    }
}

/// What happened, independent of where it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// `notification.test`, `policy.block`, `policy.escalate`, ...
    pub event_type: String,
    pub tenant_id: String,
    pub request_id: Option<String>,
    pub title: String,
    pub summary: String,
    pub decision: Option<String>,
    pub action: String,
    pub resource_id: String,
    pub severity: Option<String>,
    pub evidence_links: BTreeMap<String, String>,
    /// Stable across retries: the `webhook-id`, so receivers can drop duplicates.
    pub idempotency_key: String,
    /// An earlier attempt may have reached the target (it failed retryably:
    /// a timeout, a 5xx). Jira, which takes no idempotency key, is searched
    /// for the issue that attempt may have created before creating another.
    pub retry: bool,
}

impl Notification {
    /// The event's data as CI systems and webhooks receive it.
    pub fn payload(&self) -> Value {
        json!({
            "tenant_id": self.tenant_id,
            "request_id": self.request_id,
            "title": self.title,
            "summary": self.summary,
            "decision": self.decision,
            "action": self.action,
            "resource_id": self.resource_id,
            "severity": self.severity,
            "evidence_links": self.evidence_links,
        })
    }

    /// [`Notification::payload`] as compact JSON of at most `max_chars`
    /// characters. Too long? Strings are shortened, then links dropped, then only
    /// the ids kept, each step marked `"truncated": true`; the text is always
    /// valid JSON, never a cut-off prefix.
    pub fn payload_json(&self, max_chars: usize) -> String {
        let full = self.payload();
        let fits = |s: &String| s.chars().count() <= max_chars;
        let text = full.to_string();
        if fits(&text) {
            return text;
        }
        for cap in [2048, 512, 128, 32] {
            let mut shrunk = shorten_strings(&full, cap);
            shrunk["truncated"] = json!(true);
            let text = shrunk.to_string();
            if fits(&text) {
                return text;
            }
            shrunk["evidence_links"] = json!({});
            let text = shrunk.to_string();
            if fits(&text) {
                return text;
            }
        }
        let ids = json!({
            "tenant_id": cut(&self.tenant_id, 64),
            "request_id": self.request_id.as_deref().map(|r| cut(r, 64)),
            "truncated": true,
        })
        .to_string();
        if fits(&ids) { ids } else { "{}".to_owned() }
    }
}

fn shorten_strings(value: &Value, cap: usize) -> Value {
    match value {
        Value::String(s) => Value::String(cut(s, cap)),
        Value::Array(items) => items.iter().map(|v| shorten_strings(v, cap)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (cut(k, cap), shorten_strings(v, cap)))
            .collect(),
        other => other.clone(),
    }
}

/// `base` with `segments` appended as percent-encoded path segments. Tenant
/// base URLs must be plain: a query or fragment there is a configuration error.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Result<Url, CallResult> {
    if base.query().is_some() || base.fragment().is_some() {
        return Err(CallResult::bad_config(
            "base URL must not carry a query or fragment",
        ));
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| CallResult::bad_config("base URL cannot carry a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Parses a tenant-supplied base URL; the client re-checks it on every call.
pub(crate) fn parse_base(base: &str, what: &str) -> Result<Url, CallResult> {
    Url::parse(base.trim())
        .map_err(|_| CallResult::bad_config(&format!("{what} is not a valid URL")))
}

/// Non-empty, at most `max` characters, no control characters or whitespace.
pub(crate) fn plain_token(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.chars().count() <= max
        && !value.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Unwraps the early-return style used by the dispatchers.
pub(crate) fn settle(result: Result<CallResult, CallResult>, secrets: &[&str]) -> CallResult {
    result.unwrap_or_else(|d| d).scrubbed(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Notification {
        Notification {
            event_type: "policy.block".into(),
            tenant_id: "t-1".into(),
            request_id: None,
            title: "Policy Block: delete_volume".into(),
            summary: "s".repeat(10_000),
            decision: Some("block".into()),
            action: "delete_volume".into(),
            resource_id: "vol-1".into(),
            severity: Some("critical".into()),
            evidence_links: (0..50)
                .map(|i| {
                    (
                        format!("link{i}"),
                        format!("https://x.example/{}", "p".repeat(500)),
                    )
                })
                .collect(),
            idempotency_key: "msg_1".into(),
            retry: false,
        }
    }

    #[test]
    fn payload_json_shrinks_to_valid_json_within_the_budget() {
        let n = sample();
        for max in [100_000, 5_000, 600, 200, 80] {
            let text = n.payload_json(max);
            assert!(text.chars().count() <= max, "{max}: {}", text.len());
            let v: Value = serde_json::from_str(&text).expect("valid JSON");
            assert_eq!(v["tenant_id"], "t-1");
            assert_eq!(v["request_id"], Value::Null);
        }
        let full: Value = serde_json::from_str(&n.payload_json(100_000)).unwrap();
        assert!(full.get("truncated").is_none());
        let small: Value = serde_json::from_str(&n.payload_json(5_000)).unwrap();
        assert_eq!(small["truncated"], true);
    }

    #[test]
    fn endpoint_appends_encoded_segments_once() {
        let base = Url::parse("https://jira.example.com/ctx/").unwrap();
        let url = endpoint(&base, &["rest", "a/b c"]).unwrap();
        assert_eq!(url.as_str(), "https://jira.example.com/ctx/rest/a%2Fb%20c");
        let with_query = Url::parse("https://jira.example.com/?token=x").unwrap();
        let err = endpoint(&with_query, &["rest"]).unwrap_err();
        assert!(!err.detail.contains("token"));
    }
}
