//! The fake Slack Web API: `chat.postMessage` and `auth.test`, answering as
//! Slack does for a bot token (`not_authed` without one).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::{Ctx, Shared, has_credential, json_body};

async fn slack_post_message(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = json_body(&body);
    let channel = body.get("channel").and_then(Value::as_str).unwrap_or("");
    let answer = if !has_credential(&headers, "bearer") {
        json!({"ok": false, "error": "not_authed"})
    } else if channel.is_empty() {
        json!({"ok": false, "error": "channel_not_found"})
    } else {
        let ts = format!("{}.{:06}", chrono::Utc::now().timestamp(), shared.next());
        json!({"ok": true, "channel": channel, "ts": ts})
    };
    shared.keep(
        "slack",
        &method,
        &uri,
        &headers,
        body,
        StatusCode::OK,
        Map::new(),
    );
    Json(answer).into_response()
}

async fn slack_auth_test(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let answer = if has_credential(&headers, "bearer") {
        json!({"ok": true, "url": "https://valdrix-sandbox.slack.com/", "team": "Valdrix Sandbox",
               "user": "valdrix", "team_id": "TSANDBOX", "user_id": "USANDBOX"})
    } else {
        json!({"ok": false, "error": "not_authed"})
    };
    shared.keep(
        "slack",
        &method,
        &uri,
        &headers,
        Value::Null,
        StatusCode::OK,
        Map::new(),
    );
    Json(answer).into_response()
}

/// Slack's Web API routes (under `/api/`).
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/chat.postMessage", post(slack_post_message))
        .route("/api/auth.test", post(slack_auth_test))
}
