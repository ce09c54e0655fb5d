//! HTTP conventions every function's router shares: problem+json errors
//! ([`ApiError`]), the [`ApiJson`] body extractor, request ids, CORS, the body
//! limit, per-request logging and panic containment — all applied by [`layers`].

mod cors;
mod deadline;
mod domain;
mod json;
mod normalize;
mod panic;
mod problem;
mod request_id;
mod strict;
mod trace;

use axum::Router;
use axum::middleware::{from_fn, map_response};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::map_response_body::MapResponseBodyLayer;

use crate::config::RuntimeConfig;

pub use deadline::{API_GATEWAY_BUDGET, RequestDeadline};
pub use json::{ApiJson, NoInput, optional_json, parse_json};
pub use problem::{
    ApiError, BODY_LIMIT_BYTES, FieldError, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, problem_with,
};
pub use request_id::{REQUEST_ID_HEADER, RequestId};

/// Wrap a function's finished router (call it after the last `.route`) in the
/// shared stack, outermost first:
///
/// 1. request id — chosen before anything can answer, echoed on every response;
/// 2. the request span and completion log line;
/// 3. CORS (preflights are answered here; errors still carry CORS headers);
/// 4. error normalisation — every 4xx/5xx becomes problem+json;
/// 5. panic containment — a panicking handler is a 500 problem;
/// 6. the request body limit ([`BODY_LIMIT_BYTES`]).
///
/// Unknown routes (404) and wrong methods (405) come out of axum's defaults
/// and are rewritten by step 4.
pub fn layers<S>(router: Router<S>, config: &RuntimeConfig) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn(request_id::assign))
            .layer(from_fn(trace::trace))
            .layer(cors::layer(&config.cors_origins))
            .layer(map_response(normalize::normalize))
            // CatchPanic answers its own body type; the layers above read axum's.
            .layer(MapResponseBodyLayer::new(axum::body::Body::new))
            .layer(panic::layer())
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES)),
    )
}
