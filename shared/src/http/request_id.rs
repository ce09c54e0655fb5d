//! One id per request: taken from the caller or API Gateway when it is sane,
//! otherwise generated; echoed in `x-request-id` on every response.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderName, HeaderValue};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Headers an incoming id may come from, in order of preference.
const SOURCES: [&str; 3] = ["x-request-id", "x-amzn-requestid", "apigw-requestid"];

/// The current request's id. As an extractor it never fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        // Absent only on a router that skipped `layers`; still hand out an id.
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(generate))
    }
}

/// An id is reused only when it cannot inject anything into logs or headers.
pub fn is_sane(id: &str) -> bool {
    (8..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:=+/".contains(&b))
}

fn generate() -> RequestId {
    RequestId(uuid::Uuid::new_v4().to_string())
}

/// Middleware: pick the id, store it in the request's extensions and headers,
/// and copy it onto the response, whatever produced that response.
pub(crate) async fn assign(mut req: Request, next: Next) -> Response {
    let id = SOURCES
        .iter()
        .filter_map(|name| req.headers().get(*name)?.to_str().ok())
        .find(|v| is_sane(v))
        .map(|v| RequestId(v.to_owned()))
        .unwrap_or_else(generate);
    // Sane ids and UUIDs are visible ASCII: the conversion always succeeds.
    let value = HeaderValue::from_str(id.as_str()).ok();
    if let Some(value) = &value {
        req.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    }
    req.extensions_mut().insert(id);
    let mut response = next.run(req).await;
    if let Some(value) = value {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
