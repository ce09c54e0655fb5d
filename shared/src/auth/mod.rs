//! Authentication (HS256 user JWTs, the admin key) and the role/tier
//! extractors. Handlers take [`CurrentUser`], [`AdminOrOwner`], [`Owner`] or
//! [`AdminKey`] as arguments, under any state that gives a
//! [`Core`](crate::state::Core).

mod admin_key;
mod jwt;
mod token;
mod user;

pub use admin_key::{
    ADMIN_KEY_HEADER, AdminKey, INVALID_ADMIN_KEY, MISSING_ADMIN_KEY, check_admin_key,
};
pub use jwt::{
    AUDIENCE, EXPIRED_TOKEN, INVALID_TOKEN, LEEWAY_SECS, MISSING_TOKEN, UserClaims, bearer_token,
    verify_bearer, verify_token,
};
pub use token::mint_user_token;
pub use user::{
    AdminOrOwner, CurrentUser, ONBOARDING_REQUIRED, Owner, require_role, require_tier,
    resolve_user, role_name, tier_name, tier_too_low,
};
