//! `ApiError`, the one error type of the HTTP layer, and its single mapping to
//! RFC 9457 `application/problem+json`.

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

use crate::store::StoreError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Problem `type` URIs are this plus the kebab-cased status title, e.g.
/// `https://docs.valdrix.io/problems/not-found`.
pub const PROBLEM_TYPE_BASE: &str = "https://docs.valdrix.io/problems/";
/// `Retry-After` on a 503: an outage answers within about 5 s, and the store
/// client's own retries are spent by then, so a caller should wait as long.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;
/// Largest request body any function accepts.
pub const BODY_LIMIT_BYTES: usize = 256 * 1024;

/// One violated field of a request: `field` is a dotted path into the body
/// (or the query parameter's name). The domain's own type, shown as is.
pub use crate::validate::FieldViolation as FieldError;

/// Every `detail` here is shown to the caller, so it must be safe to show:
/// never a secret, a token or an internal error's text. Causes go to the log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Also answers `WWW-Authenticate: Bearer`.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A failed `If-Match` (RFC 9110, 13.1.1).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("unprocessable: {detail}")]
    Unprocessable {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: Option<u64> },
    #[error("bad gateway: {0}")]
    BadGateway(String),
    #[error("gateway timeout: {0}")]
    GatewayTimeout(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure. The cause is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// A 422 for a single field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Self::Unprocessable {
            detail: format!("invalid field `{}`: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut extra = Vec::new();
        let (detail, errors) = match self {
            Self::Unauthorized(d) => {
                extra.push((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
                (d, Vec::new())
            }
            Self::BadRequest(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::PreconditionFailed(d)
            | Self::UnsupportedMediaType(d)
            | Self::BadGateway(d)
            | Self::GatewayTimeout(d) => (d, Vec::new()),
            Self::Unavailable(d) => {
                extra.push((RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS)));
                (d, Vec::new())
            }
            Self::Unprocessable { detail, errors } => (detail, errors),
            Self::PayloadTooLarge => (
                format!("request body exceeds {BODY_LIMIT_BYTES} bytes"),
                Vec::new(),
            ),
            Self::TooManyRequests { retry_after_secs } => {
                if let Some(secs) = retry_after_secs {
                    extra.push((RETRY_AFTER, HeaderValue::from(secs)));
                }
                ("too many requests; slow down".into(), Vec::new())
            }
            Self::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                ("internal error".into(), Vec::new())
            }
        };
        let mut response = problem(status, &detail, &errors);
        response.headers_mut().extend(extra);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::ConditionFailed { .. } | StoreError::TransactionConditionFailed { .. } => {
                tracing::debug!(error = %err, "store condition failed");
                Self::Conflict("the resource changed or already exists; reload and retry".into())
            }
            StoreError::TransactionConflict => {
                Self::Conflict("a concurrent update touched the same resource; retry".into())
            }
            StoreError::InvalidCursor => {
                Self::invalid_field("cursor", "is not a cursor this listing produced")
            }
            StoreError::Invalid(_) => Self::internal(err),
            StoreError::Unavailable(_) => {
                tracing::error!(error = %err, "store unavailable");
                Self::Unavailable("store unavailable".into())
            }
        }
    }
}

/// The one place a problem+json response is built.
pub(crate) fn problem(status: StatusCode, detail: &str, errors: &[FieldError]) -> Response {
    let mut extensions = serde_json::Map::new();
    if !errors.is_empty() {
        extensions.insert("errors".into(), serde_json::json!(errors));
    }
    problem_with(status, detail, extensions)
}

/// A problem+json response with extension members beside `type`, `title`,
/// `status` and `detail` (RFC 9457 §3.2), for an error that also reports
/// results, e.g. a failed integration test's run id and per-target outcomes.
/// Extensions cannot replace the four standard members. Like every `detail`,
/// the extensions are shown to the caller: nothing secret in them.
pub fn problem_with(
    status: StatusCode,
    detail: &str,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let mut body = serde_json::Map::new();
    for (name, value) in extensions {
        if !matches!(name.as_str(), "type" | "title" | "status" | "detail") {
            body.insert(name, value);
        }
    }
    body.insert("type".into(), problem_type(title).into());
    body.insert("title".into(), title.into());
    body.insert("status".into(), status.as_u16().into());
    body.insert("detail".into(), detail.into());
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE))],
        serde_json::Value::Object(body).to_string(),
    )
        .into_response()
}

fn problem_type(title: &str) -> String {
    let slug: String = title
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    format!("{PROBLEM_TYPE_BASE}{slug}")
}
