//! `ApiJson<T>`: a JSON body extractor whose every rejection is an [`ApiError`].

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::problem::{ApiError, FieldError};

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
/// shape (a 422 naming the field, quoted values dropped).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(bytes) {
        return Err(ApiError::BadRequest(if e.is_eof() {
            "malformed JSON: unexpected end of input".into()
        } else {
            format!("malformed JSON at line {} column {}", e.line(), e.column())
        }));
    }
    axum::Json::<T>::from_bytes(bytes)
        .map(|axum::Json(v)| v)
        .map_err(shape_error)
}

fn shape_error(rejection: JsonRejection) -> ApiError {
    let JsonRejection::JsonDataError(e) = rejection else {
        // Syntax was checked above; anything else is unexpected.
        return ApiError::BadRequest("malformed JSON".into());
    };
    // The source's text is serde_path_to_error's "<path>: <message>".
    let text = std::error::Error::source(&e)
        .map(ToString::to_string)
        .unwrap_or_default();
    let (path, message) = split_path(strip_location(&text));
    // A missing field's path is its parent's; an unknown field's is its own.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path) {
        (Some(name), "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    let message = redact_values(message);
    ApiError::Unprocessable {
        detail: format!("invalid request body: {field}: {message}"),
        errors: vec![FieldError::new(field, message)],
    }
}

fn strip_location(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Splits "<path>: <message>". At the root there is no path, and the text
/// starts with one of serde's own messages.
fn split_path(text: &str) -> (&str, &str) {
    const ROOT_MESSAGES: [&str; 6] = [
        "missing field",
        "unknown field",
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
    ];
    if ROOT_MESSAGES.iter().any(|m| text.starts_with(m)) {
        return ("", text);
    }
    text.split_once(": ").unwrap_or(("", text))
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
