//! Who is calling: a verified token's `sub`, resolved through the membership
//! to exactly one tenant, with a role and the tenant's tier. The tenant id
//! always comes from the membership, never from the request.

use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use http::header::AUTHORIZATION;
use http::request::Parts;

use super::jwt::{INVALID_TOKEN, verify_bearer};
use crate::config::RuntimeConfig;
use crate::http::ApiError;
use crate::state::Core;
use crate::store::Store;
use crate::tenancy::{Role, Tier};
use crate::tenancy::{get_membership, get_tenant};

pub const ONBOARDING_REQUIRED: &str = "tenant onboarding required";

/// Any member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub user_id: String,
    /// The token's email when it has one, else the membership's.
    pub email: String,
    pub tenant_id: String,
    pub role: Role,
    pub tier: Tier,
}

/// Verify the `Authorization` header value and resolve the caller's tenant.
/// 401 for any token problem, 403 without a membership or tenant, 503 when
/// the store is down.
pub async fn resolve_user(
    store: &dyn Store,
    config: &RuntimeConfig,
    authorization: Option<&str>,
) -> Result<CurrentUser, ApiError> {
    let claims = verify_bearer(config, authorization)?;
    let onboarding = || ApiError::Forbidden(ONBOARDING_REQUIRED.into());
    let membership = get_membership(store, &claims.sub)
        .await?
        .ok_or_else(onboarding)?;
    let tenant = get_tenant(store, &membership.tenant_id)
        .await?
        .ok_or_else(onboarding)?;
    Ok(CurrentUser {
        user_id: membership.user_id,
        email: claims.email.unwrap_or(membership.email),
        tenant_id: tenant.id,
        role: membership.role,
        tier: tenant.tier,
    })
}

/// 403 unless `user` holds at least `min` (roles are ordered).
pub fn require_role(user: &CurrentUser, min: Role) -> Result<(), ApiError> {
    if user.role >= min {
        return Ok(());
    }
    let required = match min {
        Role::Member => "member",
        Role::Admin => "admin or owner",
        Role::Owner => "owner",
    };
    Err(ApiError::Forbidden(format!(
        "requires role {required} (you are {})",
        role_name(user.role)
    )))
}

/// 403 unless the user's tenant is on `min` or a higher tier.
pub fn require_tier(user: &CurrentUser, min: Tier, feature: &str) -> Result<(), ApiError> {
    if user.tier >= min {
        return Ok(());
    }
    Err(tier_too_low(user.tier, min, feature))
}

/// The 403 of a `feature` that needs tier `min` or higher.
pub fn tier_too_low(current: Tier, min: Tier, feature: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "feature '{feature}' requires the {} tier or higher (current tier: {})",
        tier_name(min),
        tier_name(current)
    ))
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Member => "member",
        Role::Admin => "admin",
        Role::Owner => "owner",
    }
}

pub fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Free => "free",
        Tier::Starter => "starter",
        Tier::Growth => "growth",
        Tier::Pro => "pro",
        Tier::Enterprise => "enterprise",
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Core: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Several extractors in one handler resolve the caller once.
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let authorization = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::Unauthorized(INVALID_TOKEN.into()))?,
            ),
        };
        let core = Core::from_ref(state);
        let user = resolve_user(core.store.as_ref(), &core.config, authorization).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// A member whose role is admin or owner.
#[derive(Debug, Clone)]
pub struct AdminOrOwner(pub CurrentUser);

/// The tenant's owner.
#[derive(Debug, Clone)]
pub struct Owner(pub CurrentUser);

macro_rules! role_extractor {
    ($name:ident, $min:expr) => {
        impl<S> FromRequestParts<S> for $name
        where
            Core: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let user = CurrentUser::from_request_parts(parts, state).await?;
                require_role(&user, $min)?;
                Ok(Self(user))
            }
        }

        impl Deref for $name {
            type Target = CurrentUser;

            fn deref(&self) -> &CurrentUser {
                &self.0
            }
        }
    };
}

role_extractor!(AdminOrOwner, Role::Admin);
role_extractor!(Owner, Role::Owner);
