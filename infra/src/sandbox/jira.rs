//! The fake Jira Cloud: issue creation, the JQL search a retry's lookup uses,
//! and `myself`; 401 without Basic credentials.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::{Ctx, Shared, has_credential, json_body};

async fn jira_create_issue(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    jira_reply(&shared, &method, &uri, &headers, &body, |_| {
        let n = shared.next();
        let id = 10_000 + n;
        let key = format!("SBX-{n}");
        let answer = json!({"id": id.to_string(), "key": key,
                            "self": format!("http://{host}/rest/api/3/issue/{id}")});
        // Kept beside the request, so the search below can find the issue.
        let extra = Map::from_iter([("issue_key".to_owned(), Value::from(key))]);
        (StatusCode::CREATED, answer, extra)
    })
}

/// Enhanced JQL search, enough of it for a retry's lookup: the issues this
/// sandbox created that carry the label in `labels = "…"`.
async fn jira_search(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    jira_reply(&shared, &method, &uri, &headers, &body, |body| {
        let label = body["jql"]
            .as_str()
            .and_then(|jql| jql.split("labels = \"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        let received = shared.received.lock().unwrap_or_else(|p| p.into_inner());
        let issues: Vec<Value> = received
            .iter()
            .filter(|e| e["issue_key"].is_string())
            .filter(|e| {
                e["body"]["fields"]["labels"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x == label))
            })
            .map(|e| json!({"key": e["issue_key"]}))
            .collect();
        let answer = json!({"issues": issues, "isLast": true});
        (StatusCode::OK, answer, Map::new())
    })
}

/// Jira's 401 without Basic credentials, else what `answer` makes of the JSON
/// body (status, body, extra fields to keep); kept either way.
fn jira_reply(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    answer: impl FnOnce(&Value) -> (StatusCode, Value, Map<String, Value>),
) -> Response {
    let body = json_body(body);
    let (status, answer, extra) = if has_credential(headers, "basic") {
        answer(&body)
    } else {
        let refusal = json!({"errorMessages": ["You are not authenticated."], "errors": {}});
        (StatusCode::UNAUTHORIZED, refusal, Map::new())
    };
    shared.keep("jira", method, uri, headers, body, status, extra);
    (status, Json(answer)).into_response()
}

async fn jira_myself(State(shared): Ctx, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let status = if has_credential(&headers, "basic") {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    shared.keep(
        "jira",
        &method,
        &uri,
        &headers,
        Value::Null,
        status,
        Map::new(),
    );
    (
        status,
        Json(json!({"accountId": "sandbox-account", "displayName": "Valdrix Sandbox", "active": true})),
    )
        .into_response()
}

/// Jira's REST API v3 routes.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rest/api/3/issue", post(jira_create_issue))
        .route("/rest/api/3/search/jql", post(jira_search))
        .route("/rest/api/3/myself", get(jira_myself))
}
