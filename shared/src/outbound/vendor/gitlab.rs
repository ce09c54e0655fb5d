//! GitLab CI pipeline trigger (`POST /projects/:id/trigger/pipeline`, form fields).
//! The base URL is tenant-supplied (self-hosted GitLab): SSRF-checked per call.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Notification, endpoint, parse_base, plain_token, settle};
use crate::outbound::call_result::{CallResult, cut, one_line};
use crate::outbound::client::{Kind, Outbound, Reply};

/// The default base URL.
pub const GITLAB_COM: &str = "https://gitlab.com";

#[derive(Debug, Clone)]
pub struct GitlabTarget {
    pub base_url: String,
    /// Numeric id or `group/project` path; sent as one encoded segment.
    pub project_id: String,
    pub git_ref: String,
    pub trigger_token: SecretString,
}

const PAYLOAD_JSON_MAX: usize = 10_000;

pub async fn gitlab_trigger(
    client: &Outbound,
    target: &GitlabTarget,
    notification: &Notification,
) -> CallResult {
    let token = target.trigger_token.expose_secret();
    let result = async {
        if !plain_token(&target.project_id, 255) || !plain_token(&target.git_ref, 255) {
            return Err(CallResult::bad_config(
                "GitLab project id or ref is missing or malformed",
            ));
        }
        let base = parse_base(&target.base_url, "GitLab base URL")?;
        let segments = [
            "api",
            "v4",
            "projects",
            &target.project_id,
            "trigger",
            "pipeline",
        ];
        let url = endpoint(&base, &segments)?;
        let form = form_fields(token, &target.git_ref, notification);
        let reply = client
            .execute(Kind::Gitlab, Method::POST, &url, |rb| rb.form(&form))
            .await?;
        Ok(judge(&reply))
    }
    .await;
    settle(result, &[token])
}

fn form_fields(token: &str, git_ref: &str, n: &Notification) -> Vec<(&'static str, String)> {
    vec![
        ("token", token.to_owned()),
        ("ref", git_ref.to_owned()),
        ("variables[VALDRIX_EVENT_TYPE]", cut(&n.event_type, 64)),
        ("variables[VALDRIX_TENANT_ID]", cut(&n.tenant_id, 128)),
        (
            "variables[VALDRIX_REQUEST_ID]",
            cut(n.request_id.as_deref().unwrap_or(""), 128),
        ),
        (
            "variables[VALDRIX_PAYLOAD_JSON]",
            n.payload_json(PAYLOAD_JSON_MAX),
        ),
    ]
}

/// 201 with the pipeline object; errors carry `message` (string or object) or `error`.
fn judge(reply: &Reply) -> CallResult {
    let json = reply.json();
    if reply.is_success() {
        let id = json.as_ref().and_then(|j| j.get("id")).map(|id| match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return reply.success("GitLab created the pipeline", id);
    }
    let reason = json.as_ref().and_then(|j| {
        let v = j.get("message").or_else(|| j.get("error"))?;
        Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    });
    match reason {
        Some(r) => reply.failure(format!(
            "GitLab answered {}: {}",
            reply.status,
            one_line(&r)
        )),
        None => reply.failure(format!("GitLab answered {}", reply.status)),
    }
}
