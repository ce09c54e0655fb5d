//! GitHub Actions `workflow_dispatch`. The workflow must declare the four
//! string inputs `event_type`, `tenant_id`, `request_id` and `payload_json`.

use reqwest::Method;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{Endpoints, Notification, endpoint, plain_token, settle};
use crate::outbound::call_result::{CallResult, cut, one_line};
use crate::outbound::client::{Kind, Outbound, Reply};

#[derive(Debug, Clone)]
pub struct GithubTarget {
    pub owner: String,
    pub repo: String,
    /// Numeric id or file name (`deploy.yml`).
    pub workflow_id: String,
    pub git_ref: String,
    pub token: SecretString,
}

/// GitHub caps all inputs at 65,535 characters; the other three stay under 400.
const PAYLOAD_JSON_MAX: usize = 60_000;

pub async fn github_dispatch(
    client: &Outbound,
    endpoints: &Endpoints,
    target: &GithubTarget,
    notification: &Notification,
) -> CallResult {
    let token = target.token.expose_secret();
    let result = async {
        validate(target)?;
        let segments = [
            "repos",
            &target.owner,
            &target.repo,
            "actions",
            "workflows",
            &target.workflow_id,
            "dispatches",
        ];
        let url = endpoint(&endpoints.github_api, &segments)?;
        let body = dispatch_body(&target.git_ref, notification);
        let reply = client
            .execute(Kind::Github, Method::POST, &url, |rb| {
                rb.bearer_auth(token)
                    .header(ACCEPT, "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .json(&body)
            })
            .await?;
        Ok(judge(&reply))
    }
    .await;
    settle(result, &[token])
}

/// 204 is the classic answer; 200 with `workflow_run_id` the newer one.
fn judge(reply: &Reply) -> CallResult {
    if reply.is_success() {
        let run = reply
            .json()
            .and_then(|j| j.get("workflow_run_id").map(id_text));
        return reply.success("GitHub accepted the workflow dispatch", run);
    }
    let message = reply
        .json()
        .and_then(|j| j.get("message")?.as_str().map(one_line));
    match message {
        Some(m) => reply.failure(format!("GitHub answered {}: {m}", reply.status)),
        None => reply.failure(format!("GitHub answered {}", reply.status)),
    }
}

fn id_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn dispatch_body(git_ref: &str, n: &Notification) -> Value {
    json!({
        "ref": git_ref,
        "inputs": {
            "event_type": cut(&n.event_type, 64),
            "tenant_id": cut(&n.tenant_id, 128),
            "request_id": cut(n.request_id.as_deref().unwrap_or(""), 128),
            "payload_json": n.payload_json(PAYLOAD_JSON_MAX),
        },
    })
}

/// GitHub's own name rules; anything else would be a different path.
fn validate(t: &GithubTarget) -> Result<(), CallResult> {
    let word = |s: &str, max: usize, extra: &[char]| {
        !s.is_empty()
            && s.len() <= max
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    };
    if !word(&t.owner, 39, &['-']) {
        return Err(CallResult::bad_config(
            "GitHub owner must be letters, digits or hyphens",
        ));
    }
    if !word(&t.repo, 100, &['-', '_', '.']) || t.repo == "." || t.repo == ".." {
        return Err(CallResult::bad_config(
            "GitHub repository name is malformed",
        ));
    }
    if !word(&t.workflow_id, 255, &['-', '_', '.']) || t.workflow_id.starts_with('.') {
        return Err(CallResult::bad_config(
            "GitHub workflow must be an id or a file name",
        ));
    }
    if !plain_token(&t.git_ref, 255) {
        return Err(CallResult::bad_config("GitHub ref is missing or malformed"));
    }
    Ok(())
}
