//! Supabase user tokens: `Authorization: Bearer <JWT>`, HS256 only, verified
//! with `SUPABASE_JWT_SECRET`. Pure: no store, no clock but the system's.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::config::RuntimeConfig;
use crate::http::ApiError;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;
/// The only audience Supabase issues to signed-in users.
pub const AUDIENCE: &str = "authenticated";
/// Longest `sub` accepted; it becomes part of a store key.
const MAX_SUB_LEN: usize = 256;

pub const MISSING_TOKEN: &str = "missing bearer token";
pub const INVALID_TOKEN: &str = "invalid token";
pub const EXPIRED_TOKEN: &str = "token expired";

/// The verified claims this system uses. Role, tenant and tier never come
/// from the token: they are looked up from the membership.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserClaims {
    /// The user id (Supabase issues UUIDs; any non-empty string is accepted).
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    pub exp: u64,
    /// Issued-at; a token from the future (beyond [`LEEWAY_SECS`]) is refused.
    #[serde(default)]
    pub iat: Option<u64>,
    #[serde(default)]
    pub iss: Option<String>,
}

/// The token of an `Authorization` header value. The scheme is matched
/// case-insensitively (RFC 9110 §11.1): `bearer x` is accepted.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, ApiError> {
    let missing = || ApiError::Unauthorized(MISSING_TOKEN.into());
    let (scheme, token) = authorization
        .ok_or_else(missing)?
        .trim()
        .split_once(' ')
        .ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    match token.trim() {
        "" => Err(missing()),
        token => Ok(token),
    }
}

/// Verify the bearer token of an `Authorization` header value.
pub fn verify_bearer(
    config: &RuntimeConfig,
    authorization: Option<&str>,
) -> Result<UserClaims, ApiError> {
    verify_token(config, bearer_token(authorization)?)
}

/// Verify one compact JWT. Every failure is a 401 with a generic detail; the
/// reason is logged as a fixed label, never with the token.
pub fn verify_token(config: &RuntimeConfig, token: &str) -> Result<UserClaims, ApiError> {
    let key = DecodingKey::from_secret(config.supabase_jwt_secret.expose_secret().as_bytes());
    let claims = decode::<UserClaims>(token, &key, &validation(config))
        .map_err(|e| {
            tracing::info!(reason = reason(e.kind()), "bearer token rejected");
            let detail = match e.kind() {
                ErrorKind::ExpiredSignature => EXPIRED_TOKEN,
                _ => INVALID_TOKEN,
            };
            ApiError::Unauthorized(detail.into())
        })?
        .claims;
    if claims.sub.trim().is_empty()
        || claims.sub.len() > MAX_SUB_LEN
        || claims.sub.chars().any(char::is_control)
    {
        tracing::info!(reason = "bad_sub", "bearer token rejected");
        return Err(ApiError::Unauthorized(INVALID_TOKEN.into()));
    }
    // jsonwebtoken checks exp and nbf, never iat: a token minted ahead of
    // time (a forged or mis-clocked issuer) would otherwise live that long.
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS) {
        tracing::info!(reason = "issued_in_future", "bearer token rejected");
        return Err(ApiError::Unauthorized(INVALID_TOKEN.into()));
    }
    Ok(claims)
}

fn validation(config: &RuntimeConfig) -> Validation {
    // `new` pins the algorithm list to HS256: the header never chooses.
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_audience(&[AUDIENCE]);
    match &config.supabase_jwt_issuer {
        Some(issuer) => {
            v.set_issuer(&[issuer]);
            v.set_required_spec_claims(&["exp", "aud", "sub", "iss"]);
        }
        None => v.set_required_spec_claims(&["exp", "aud", "sub"]),
    }
    v
}

/// A fixed label for the log: never the library's text, which may quote input.
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not_yet_valid",
        ErrorKind::InvalidSignature => "bad_signature",
        ErrorKind::InvalidAlgorithm => "wrong_algorithm",
        ErrorKind::InvalidAudience => "wrong_audience",
        ErrorKind::InvalidIssuer => "wrong_issuer",
        ErrorKind::MissingRequiredClaim(_) => "missing_claim",
        ErrorKind::InvalidClaimFormat(_) => "bad_claim",
        _ => "malformed",
    }
}
