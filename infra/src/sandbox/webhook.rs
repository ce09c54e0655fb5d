//! The fake generic webhook receiver: checks the Standard Webhooks signature
//! once the signing secret is known, and flags redelivered ids.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, json};
use valdrix_shared::outbound::webhook_sig;

use super::{Ctx, Shared, WEBHOOK_PATH, json_body};

async fn webhook_receive(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let id = text(webhook_sig::HEADER_ID).to_owned();
    let timestamp = text(webhook_sig::HEADER_TIMESTAMP).parse::<i64>().ok();
    let secret = shared
        .signing_secret
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let signature = match (&secret, timestamp) {
        (None, _) => "unverified: signing secret unknown".to_owned(),
        (Some(_), None) => "invalid: missing webhook-timestamp".to_owned(),
        (Some(secret), Some(ts)) => match webhook_sig::verify(
            secret,
            &id,
            ts,
            &body,
            text(webhook_sig::HEADER_SIGNATURE),
            chrono::Utc::now().timestamp(),
        ) {
            Ok(()) => "valid".to_owned(),
            Err(e) => format!("invalid: {e}"),
        },
    };
    let valid = !signature.starts_with("invalid");
    let duplicate = valid && !id.is_empty() && !shared.first_sight(&id);
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut extra = Map::new();
    extra.insert("signature".into(), signature.clone().into());
    extra.insert("duplicate".into(), duplicate.into());
    shared.keep(
        "webhook",
        &method,
        &uri,
        &headers,
        json_body(&body),
        status,
        extra,
    );
    (
        status,
        Json(json!({"received": valid, "duplicate": duplicate, "signature": signature})),
    )
        .into_response()
}

/// The webhook receiver's one route.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route(WEBHOOK_PATH, post(webhook_receive))
}
