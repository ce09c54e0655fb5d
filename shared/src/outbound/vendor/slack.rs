//! Slack Web API: `chat.postMessage` and `auth.test` with the operator bot token.
//! Slack reports most errors as HTTP 200 with `{"ok": false, "error": "..."}`, so
//! success is `ok: true`, never just the status.

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{Endpoints, Notification, endpoint, settle};
use crate::outbound::call_result::{CallResult, Retryability, cut, retry_for_status};
use crate::outbound::client::{Kind, Outbound, Reply};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackTarget {
    pub channel: String,
}

/// Slack error codes worth another attempt later.
const TRANSIENT_ERRORS: [&str; 6] = [
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

pub async fn slack_post_message(
    client: &Outbound,
    endpoints: &Endpoints,
    bot_token: &SecretString,
    target: &SlackTarget,
    notification: &Notification,
) -> CallResult {
    let token = bot_token.expose_secret();
    let result = async {
        if !super::plain_token(&target.channel, 80) {
            return Err(CallResult::bad_config(
                "Slack channel must be a channel id or name",
            ));
        }
        let url = endpoint(&endpoints.slack_api, &["chat.postMessage"])?;
        let body = message_body(&target.channel, notification);
        let reply = call(client, &url, token, Some(body)).await?;
        Ok(judge(&reply, "Slack accepted the message", "ts"))
    }
    .await;
    settle(result, &[token])
}

/// Passive check: is the bot token still valid?
pub async fn slack_auth_test(
    client: &Outbound,
    endpoints: &Endpoints,
    bot_token: &SecretString,
) -> CallResult {
    let token = bot_token.expose_secret();
    let result = async {
        let url = endpoint(&endpoints.slack_api, &["auth.test"])?;
        let reply = call(client, &url, token, None).await?;
        Ok(judge(&reply, "Slack accepted the bot token", "team_id"))
    }
    .await;
    settle(result, &[token])
}

async fn call(
    client: &Outbound,
    url: &url::Url,
    token: &str,
    body: Option<Value>,
) -> Result<Reply, CallResult> {
    client
        .execute(Kind::Slack, Method::POST, url, |rb| {
            let rb = rb
                .bearer_auth(token)
                .header(CONTENT_TYPE, "application/json; charset=utf-8");
            match body {
                Some(body) => rb.body(body.to_string()),
                None => rb,
            }
        })
        .await
}

/// `ok: true` wins; otherwise Slack's error code, retryable when it says so.
fn judge(reply: &Reply, success: &str, id_field: &str) -> CallResult {
    let json = reply.json();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name));
    if reply.is_success() && field("ok") == Some(&Value::Bool(true)) {
        let id = field(id_field).and_then(Value::as_str).map(str::to_owned);
        return reply.success(success, id);
    }
    let Some(code) = field("error").and_then(Value::as_str).map(error_code) else {
        return reply.failure(format!("Slack answered {} without ok: true", reply.status));
    };
    let retry = if TRANSIENT_ERRORS.contains(&code.as_str()) {
        retry_for_status(429, reply.retry_after())
    } else if reply.is_success() {
        Retryability::Permanent
    } else {
        retry_for_status(reply.status, reply.retry_after())
    };
    reply.failure_with(format!("Slack refused: {code}"), retry)
}

/// Slack codes are snake_case words; anything else is not echoed at all (a
/// filtered echo could still carry most of a secret).
fn error_code(raw: &str) -> String {
    let word = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if !raw.is_empty() && raw.len() <= 64 && raw.chars().all(word) {
        raw.to_owned()
    } else {
        "unrecognised_error".to_owned()
    }
}

fn message_body(channel: &str, n: &Notification) -> Value {
    let title = if n.title.trim().is_empty() {
        "Valdrix notification".to_owned()
    } else {
        cut(n.title.trim(), 140)
    };
    json!({
        "channel": channel,
        "text": escape(&cut(&format!("{}: {}", n.title, n.summary), 2000)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": section_text(n)}},
        ],
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// The fields as mrkdwn lines, each bounded so the block stays under Slack's
/// 3,000-character limit.
fn section_text(n: &Notification) -> String {
    let mut lines = vec![
        field_line("Tenant", &n.tenant_id),
        field_line("Resource", &n.resource_id),
        field_line("Action", &n.action),
    ];
    for (label, value) in [("Decision", &n.decision), ("Severity", &n.severity)] {
        if let Some(value) = value {
            lines.push(field_line(label, value));
        }
    }
    lines.push(format!("*Summary:* {}", escape(&cut(&n.summary, 1200))));
    let links: Vec<String> = n
        .evidence_links
        .iter()
        .filter(|(_, url)| url.starts_with("https://") || url.starts_with("http://"))
        .take(6)
        .map(|(label, url)| {
            let url = cut(url, 200).replace('|', "%7C");
            format!("<{}|{}>", escape(&url), escape(&cut(label, 40)))
        })
        .collect();
    if !links.is_empty() {
        lines.push(links.join(" · "));
    }
    lines.join("\n")
}

fn field_line(label: &str, value: &str) -> String {
    format!("*{label}:* {}", escape(&cut(value, 120)))
}

/// Slack's three control characters in mrkdwn (docs: "Escaping text").
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_links_and_mentions() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn only_plain_error_codes_are_echoed() {
        assert_eq!(error_code("channel_not_found"), "channel_not_found");
        assert_eq!(error_code("xoxb-1-abc"), "unrecognised_error");
        assert_eq!(error_code(""), "unrecognised_error");
    }
}
