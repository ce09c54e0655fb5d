//! The operator key of the admin routes: header `X-Admin-Key`, compared in
//! constant time with `ADMIN_API_KEY`. No key configured means no access.

use axum::extract::{FromRef, FromRequestParts};
use http::HeaderName;
use http::request::Parts;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::RuntimeConfig;
use crate::http::ApiError;
use crate::state::Core;

pub const ADMIN_KEY_HEADER: HeaderName = HeaderName::from_static("x-admin-key");

pub const MISSING_ADMIN_KEY: &str = "missing admin key";
pub const INVALID_ADMIN_KEY: &str = "invalid admin key";

/// Proof that the request carried the configured admin key.
#[derive(Debug, Clone, Copy)]
pub struct AdminKey;

/// Check a presented key (the raw header bytes). Both sides are hashed first,
/// so the comparison takes the same time whatever the lengths.
pub fn check_admin_key(config: &RuntimeConfig, presented: Option<&[u8]>) -> Result<(), ApiError> {
    let Some(presented) = presented.filter(|p| !p.is_empty()) else {
        return Err(ApiError::Unauthorized(MISSING_ADMIN_KEY.into()));
    };
    let Some(expected) = &config.admin_api_key else {
        tracing::warn!("admin key presented but ADMIN_API_KEY is not configured");
        return Err(ApiError::Unauthorized(INVALID_ADMIN_KEY.into()));
    };
    let expected = Sha256::digest(expected.expose_secret().as_bytes());
    let presented = Sha256::digest(presented);
    if bool::from(expected.ct_eq(&presented)) {
        Ok(())
    } else {
        tracing::warn!("admin key rejected");
        Err(ApiError::Unauthorized(INVALID_ADMIN_KEY.into()))
    }
}

impl<S> FromRequestParts<S> for AdminKey
where
    Core: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let presented = parts.headers.get(ADMIN_KEY_HEADER).map(|v| v.as_bytes());
        check_admin_key(&Core::from_ref(state).config, presented).map(|()| AdminKey)
    }
}
