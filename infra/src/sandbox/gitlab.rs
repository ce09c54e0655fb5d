//! The fake GitLab: a pipeline trigger (form body with a trigger token), its
//! token masked in the request log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::{Ctx, Shared};

/// A form body as a JSON object, any field naming a token masked.
fn form_body(body: &[u8]) -> Value {
    let fields: Map<String, Value> = url::form_urlencoded::parse(body)
        .map(|(k, v)| {
            let v = if k.contains("token") {
                "***".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), Value::String(v))
        })
        .collect();
    Value::Object(fields)
}

async fn gitlab_trigger(
    State(shared): Ctx,
    Path(project): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let has_token = url::form_urlencoded::parse(&body).any(|(k, v)| k == "token" && !v.is_empty());
    let git_ref = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "ref")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (status, answer) = if has_token {
        let id = shared.next();
        (
            StatusCode::CREATED,
            json!({"id": id, "iid": id, "project_id": project, "ref": git_ref, "status": "created"}),
        )
    } else {
        (StatusCode::NOT_FOUND, json!({"message": "404 Not Found"}))
    };
    shared.keep(
        "gitlab",
        &method,
        &uri,
        &headers,
        form_body(&body),
        status,
        Map::new(),
    );
    (status, Json(answer)).into_response()
}

/// GitLab's pipeline trigger route.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route(
        "/api/v4/projects/{id}/trigger/pipeline",
        post(gitlab_trigger),
    )
}
