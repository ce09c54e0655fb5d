//! Every error response leaves as problem+json, whoever produced it: axum's
//! own 404/405 and extractor rejections, the body limit's 413, a handler's
//! bare status code. `ApiError` responses, and JSON bodies a handler built on
//! purpose (the health report's 503), pass through untouched.

use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, StatusCode};

use super::json::redact_values;
use super::problem::{BODY_LIMIT_BYTES, PROBLEM_CONTENT_TYPE, problem};

/// Longest foreign error body read back to become a `detail`.
const MAX_DETAIL_BODY: usize = 1024;

pub(crate) async fn normalize(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_structured(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_DETAIL_BODY)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_default();
    let text = text.trim();
    let detail = match status {
        StatusCode::NOT_FOUND => "no such resource".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this resource".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => format!("request body exceeds {BODY_LIMIT_BYTES} bytes"),
        s if s.is_server_error() => {
            tracing::error!(status = s.as_u16(), body = %text, "error response without a problem body");
            "internal error".to_owned()
        }
        // axum's rejections ("Failed to deserialize query string: …") are safe
        // once quoted values are dropped.
        _ if !text.is_empty() => redact_values(text),
        s => s.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut replaced = problem(status, &detail, &[]);
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    // Keep what the original said beyond its body (Allow, Retry-After, CORS…).
    replaced.headers_mut().extend(parts.headers);
    replaced
}

fn is_structured(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_CONTENT_TYPE) || v.starts_with("application/json"))
}
