//! `ApiJson<T>`: a JSON body extractor whose every rejection is an [`ApiError`].

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::{ApiError, FieldError};
use super::strict::Strict;

/// A JSON request body (`Content-Type: application/json`, any parameters).
/// 415 without that type, 413 over the body limit, 400 for malformed JSON,
/// 422 for JSON of the wrong shape (naming the field).
///
/// As a response it serialises `T` like `axum::Json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("could not read the request body".into())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON object body: none at all (zero bytes) is `None`; any
/// other body must be `application/json` and parse like [`ApiJson`]'s.
pub fn optional_json<T: DeserializeOwned>(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    if !is_json(headers.get(CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType(
            "send the body as application/json, or none".into(),
        ));
    }
    parse_json(body).map(Some)
}

/// The body of a route that takes no input: none, or `{}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(value: Option<&http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A JSON body already read (e.g. an optional one) with [`ApiJson`]'s
/// answers: syntax first (so a 400 says where, without echoing input), then
/// the root must be an object (every request body is one; serde's derive
/// would otherwise read a struct from an array, by position), then shape (a
/// 422 naming the field, quoted values dropped, no Rust type named).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(if e.is_eof() {
            "malformed JSON: unexpected end of input".into()
        } else {
            format!("malformed JSON at line {} column {}", e.line(), e.column())
        })
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid_field("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(Strict(value)).map_err(shape_error)
}

fn shape_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = match e.path().to_string() {
        root if root == "." => String::new(),
        path => path,
    };
    // Errors from a `Value` carry no line and column.
    let text = e.inner().to_string();
    let message = text.as_str();
    // A missing field's path is its parent's; an unknown field's is its own.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path.as_str()) {
        (Some(name), "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    let message = plain_types(&redact_values(message));
    ApiError::Unprocessable {
        detail: format!("invalid request body: {field}: {message}"),
        errors: vec![FieldError::new(field, message)],
    }
}

/// serde speaks Rust (`invalid type: sequence, expected struct CostWindow`,
/// `expected u64`); say the same in JSON's words.
fn plain_types(message: &str) -> String {
    const UNSIGNED: [&str; 5] = ["u8", "u16", "u32", "u64", "usize"];
    const SIGNED: [&str; 5] = ["i8", "i16", "i32", "i64", "isize"];
    let (head, expected) = message.split_once(", expected ").unwrap_or((message, ""));
    let head = head
        .replace("sequence", "array")
        .replace("unit value", "null")
        .replace(": map", ": object");
    let expected = if expected.starts_with("struct ") || expected == "a map" {
        "a JSON object"
    } else if expected.starts_with("enum ") {
        "one of the documented values"
    } else if expected == "a sequence" {
        "an array"
    } else if UNSIGNED.contains(&expected) {
        "a non-negative integer"
    } else if SIGNED.contains(&expected) {
        "an integer"
    } else if expected == "f32" || expected == "f64" {
        "a number"
    } else {
        expected
    };
    match expected {
        "" => head,
        e => format!("{head}, expected {e}"),
    }
}

/// serde quotes offending string values (`invalid type: string "…"`); a
/// misplaced secret must not come back in the response, so drop them.
pub(crate) fn redact_values(message: &str) -> String {
    let Some(start) = message.find(" \"") else {
        return message.to_owned();
    };
    match message.rfind("\", expected") {
        Some(end) if end > start => format!("{}{}", &message[..start], &message[end + 1..]),
        _ => message[..start].to_owned(),
    }
}
