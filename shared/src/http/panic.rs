//! A panicking handler answers a 500 problem (tower-http's `CatchPanic`);
//! the panic's message goes to the log, never to the caller.

use std::any::Any;

use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use super::problem::ApiError;

pub(crate) fn layer() -> CatchPanicLayer<fn(Box<dyn Any + Send>) -> Response> {
    CatchPanicLayer::custom(answer as fn(Box<dyn Any + Send>) -> Response)
}

fn answer(payload: Box<dyn Any + Send>) -> Response {
    ApiError::Internal(format!("handler panicked: {}", message(&*payload))).into_response()
}

fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}
