//! One span per request — method, route template, request id — and one line
//! when it completes with status and latency. Headers, query strings and
//! bodies are never logged: they carry tokens and admin keys.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::request_id::RequestId;

pub(crate) async fn trace(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("<unmatched>", MatchedPath::as_str),
        request_id = req
            .extensions()
            .get::<RequestId>()
            .map_or("-", RequestId::as_str),
    );
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request completed");
        }
    });
    response
}
