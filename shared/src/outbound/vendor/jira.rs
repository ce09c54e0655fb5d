//! Jira Cloud REST v3: create an issue, or check the credentials (`myself`).
//! v3 wants the description as an Atlassian Document Format tree, not a string
//! (the original sent a string and failed, original_system.md §3.2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::{Notification, endpoint, parse_base, settle};
use crate::outbound::call_result::{CallResult, cut, one_line};
use crate::outbound::client::{Kind, Outbound, Reply};

/// A tenant's Jira settings. `base_url` is tenant-supplied: SSRF-checked per call.
#[derive(Debug, Clone)]
pub struct JiraTarget {
    pub base_url: String,
    pub email: String,
    pub api_token: SecretString,
    pub project_key: String,
    /// "Task" when the tenant left it empty.
    pub issue_type: String,
}

pub async fn jira_create_issue(
    client: &Outbound,
    target: &JiraTarget,
    notification: &Notification,
) -> CallResult {
    let result = async {
        if !super::plain_token(&target.project_key, 64) {
            return Err(CallResult::bad_config(
                "Jira project key is missing or malformed",
            ));
        }
        let base = parse_base(&target.base_url, "Jira base URL")?;
        if notification.retry
            && let Some(found) = earlier_issue(client, target, &base, notification).await
        {
            return Ok(found);
        }
        let url = endpoint(&base, &["rest", "api", "3", "issue"])?;
        let body = issue_body(target, notification);
        let reply = call(client, target, Method::POST, &url, Some(body)).await?;
        if !reply.is_success() {
            return Ok(reply.failure(refusal_detail(&reply)));
        }
        let key = reply
            .json()
            .and_then(|j| j.get("key")?.as_str().map(str::to_owned));
        Ok(reply.success("Jira created the issue", key))
    }
    .await;
    settle(result, &secrets(target).each_ref().map(String::as_str))
}

/// The issue an earlier attempt created, found by its delivery label
/// (`POST /rest/api/3/search/jql`). `None` when there is none, and also when
/// the search fails: a duplicate issue is better than a lost one.
async fn earlier_issue(
    client: &Outbound,
    target: &JiraTarget,
    base: &url::Url,
    n: &Notification,
) -> Option<CallResult> {
    let url = endpoint(base, &["rest", "api", "3", "search", "jql"]).ok()?;
    let jql = format!(
        "project = \"{}\" AND labels = \"{}\"",
        target.project_key,
        delivery_label(n)
    );
    let query = json!({"jql": jql, "maxResults": 1, "fields": ["key"]});
    let reply = call(client, target, Method::POST, &url, Some(query))
        .await
        .ok()?;
    if !reply.is_success() {
        tracing::warn!(
            status = reply.status,
            "Jira search failed; creating the issue again"
        );
        return None;
    }
    let key = reply
        .json()?
        .get("issues")?
        .get(0)?
        .get("key")?
        .as_str()?
        .to_owned();
    Some(reply.success(
        "Jira already had the issue from an earlier attempt",
        Some(key),
    ))
}

/// A label only this delivery's issue carries: a hash of its idempotency key
/// (event ids are the caller's, and labels allow few characters).
fn delivery_label(n: &Notification) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(n.idempotency_key.as_bytes());
    format!("valdrix-delivery-{}", hex::encode(&digest[..8]))
}

/// Passive check: `GET /rest/api/3/myself` answers 200 for valid credentials.
pub async fn jira_myself(client: &Outbound, target: &JiraTarget) -> CallResult {
    let result = async {
        let url = endpoint(
            &parse_base(&target.base_url, "Jira base URL")?,
            &["rest", "api", "3", "myself"],
        )?;
        let reply = call(client, target, Method::GET, &url, None).await?;
        if !reply.is_success() {
            return Ok(reply.failure(refusal_detail(&reply)));
        }
        let id = reply
            .json()
            .and_then(|j| j.get("accountId")?.as_str().map(str::to_owned));
        Ok(reply.success("Jira accepted the credentials", id))
    }
    .await;
    settle(result, &secrets(target).each_ref().map(String::as_str))
}

async fn call(
    client: &Outbound,
    target: &JiraTarget,
    method: Method,
    url: &url::Url,
    body: Option<Value>,
) -> Result<Reply, CallResult> {
    client
        .execute(Kind::Jira, method, url, |rb| {
            let rb = rb
                .basic_auth(&target.email, Some(target.api_token.expose_secret()))
                .header(ACCEPT, "application/json");
            match body {
                Some(body) => rb.json(&body),
                None => rb,
            }
        })
        .await
}

/// The token, plus the Basic credential it travels in.
fn secrets(target: &JiraTarget) -> [String; 2] {
    let token = target.api_token.expose_secret();
    let basic = STANDARD.encode(format!("{}:{token}", target.email));
    [token.to_owned(), basic]
}

fn issue_body(target: &JiraTarget, n: &Notification) -> Value {
    let issue_type = match target.issue_type.trim() {
        "" => "Task",
        t => t,
    };
    // Jira requires a one-line, non-empty summary of at most 255 characters.
    let summary = match cut(&one_line(&n.title), 250) {
        s if s.is_empty() => "Valdrix notification".to_owned(),
        s => s,
    };
    json!({"fields": {
        "project": {"key": target.project_key},
        "summary": summary,
        "issuetype": {"name": issue_type},
        "description": adf(n),
        "labels": labels(n),
    }})
}

/// One ADF paragraph per non-empty line; ADF rejects empty text nodes.
fn adf(n: &Notification) -> Value {
    let mut lines = vec![n.summary.clone()];
    lines.push(format!("Tenant: {}", n.tenant_id));
    lines.push(format!("Resource: {}", n.resource_id));
    lines.push(format!("Action: {}", n.action));
    for (label, value) in [
        ("Decision", &n.decision),
        ("Severity", &n.severity),
        ("Request", &n.request_id),
    ] {
        if let Some(value) = value {
            lines.push(format!("{label}: {value}"));
        }
    }
    lines.extend(n.evidence_links.iter().map(|(k, v)| format!("{k}: {v}")));
    let content: Vec<Value> = lines
        .iter()
        .map(|l| cut(l.trim(), 4000))
        .filter(|l| !l.is_empty())
        .map(|text| json!({"type": "paragraph", "content": [{"type": "text", "text": text}]}))
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// `valdrix`, the event type, decision and severity as Jira labels, and the
/// delivery's own label (what a retry searches for).
fn labels(n: &Notification) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let raw = [
        Some("valdrix"),
        Some(n.event_type.as_str()),
        n.decision.as_deref(),
        n.severity.as_deref(),
    ];
    for label in raw.into_iter().flatten().filter_map(sanitize_label) {
        if !out.contains(&label) {
            out.push(label);
        }
    }
    out.push(delivery_label(n));
    out
}

/// Lower case, whitespace and dots to `-`, only `[a-z0-9_-]` kept, at most 255.
pub(crate) fn sanitize_label(raw: &str) -> Option<String> {
    let mut label = String::new();
    for c in raw.trim().to_lowercase().chars() {
        let c = if c.is_whitespace() || c == '.' || c == '/' {
            '-'
        } else {
            c
        };
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if keep && !(c == '-' && label.ends_with('-')) {
            label.push(c);
        }
    }
    let label: String = label.trim_matches('-').chars().take(255).collect();
    (!label.is_empty()).then_some(label)
}

/// Jira's `errorMessages` and `errors` (field → message), joined.
fn refusal_detail(reply: &Reply) -> String {
    let json = reply.json().unwrap_or(Value::Null);
    let mut parts: Vec<String> = json
        .get("errorMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let empty = Map::new();
    let errors = json
        .get("errors")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    parts.extend(errors.iter().map(|(field, msg)| {
        let msg = msg.as_str().map_or_else(|| msg.to_string(), str::to_owned);
        format!("{field}: {msg}")
    }));
    let status = reply.status;
    if parts.is_empty() {
        format!("Jira answered {status}")
    } else {
        format!("Jira answered {status}: {}", one_line(&parts.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(
            sanitize_label(" Prod Team / Alerts ").as_deref(),
            Some("prod-team-alerts")
        );
        assert_eq!(
            sanitize_label("policy.block").as_deref(),
            Some("policy-block")
        );
        assert_eq!(sanitize_label("$$$"), None);
        assert_eq!(sanitize_label(&"a".repeat(300)).map(|l| l.len()), Some(255));
    }
}
