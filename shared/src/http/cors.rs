//! CORS for the browser app: exact origins from `CORS_ORIGINS`, credentials
//! allowed, never `*`.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::request_id::REQUEST_ID_HEADER;

const IF_MATCH: HeaderName = header::IF_MATCH;
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const ADMIN_KEY: HeaderName = HeaderName::from_static("x-admin-key");

pub fn layer(origins: &[String]) -> CorsLayer {
    let origins = origins
        .iter()
        // The contract already rejects `*`; `AllowOrigin::list` would panic on it.
        .filter(|o| o.as_str() != "*")
        .filter_map(|o| match HeaderValue::from_str(o) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(origin = %o, "CORS origin is not a valid header value; skipped");
                None
            }
        });
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            IF_MATCH,
            IDEMPOTENCY_KEY,
            ADMIN_KEY,
            REQUEST_ID_HEADER,
        ])
        .expose_headers([header::ETAG, REQUEST_ID_HEADER, header::LOCATION])
        .max_age(Duration::from_secs(600))
}
