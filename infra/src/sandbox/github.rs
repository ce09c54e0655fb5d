//! The fake GitHub REST API: a workflow dispatch, 204 with a bearer token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, json};

use super::{Ctx, Shared, has_credential, json_body};

async fn github_dispatch(
    State(shared): Ctx,
    Path((_owner, _repo, _workflow)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = if has_credential(&headers, "bearer") {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    };
    shared.keep(
        "github",
        &method,
        &uri,
        &headers,
        json_body(&body),
        status,
        Map::new(),
    );
    if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, Json(json!({"message": "Bad credentials"}))).into_response()
    }
}

/// GitHub's workflow dispatch route.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route(
        "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
        post(github_dispatch),
    )
}
