//! [`RequestDeadline`]: the time a request may use. Lambda's invocation
//! deadline (lambda_http puts the invocation's context in the request's
//! extensions), never later than API Gateway's 29 s from now, and shortened
//! by `VALDRIX_INVOCATION_BUDGET_SECONDS` (tests, benchmarks).

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::deadline::Deadline;

/// API Gateway answers 504 itself after 30 s; a handler has a second less.
pub const API_GATEWAY_BUDGET: Duration = Duration::from_secs(29);

/// As an extractor it never fails: without a Lambda context (`valdrix
/// serve`, tests) the gateway's budget alone applies.
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Deadline);

impl<S: Send + Sync> FromRequestParts<S> for RequestDeadline {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let gateway_ms = (now + API_GATEWAY_BUDGET).as_millis() as u64;
        let lambda_ms = parts
            .extensions
            .get::<lambda_runtime::Context>()
            .map(|ctx| ctx.deadline)
            .filter(|&ms| ms > 0);
        let epoch_ms = lambda_ms.map_or(gateway_ms, |ms| ms.min(gateway_ms));
        Ok(Self(Deadline::invocation(epoch_ms)))
    }
}
