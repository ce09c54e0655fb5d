//! Minting user tokens: HS256 JWTs shaped like Supabase's, signed with the
//! configured `SUPABASE_JWT_SECRET`. For `valdrix serve`'s demo users and the
//! post-deploy hook's smoke user; production users get theirs from Supabase.

use jsonwebtoken::{EncodingKey, Header, encode};
use secrecy::ExposeSecret;
use serde_json::json;

use super::jwt::AUDIENCE;
use crate::config::RuntimeConfig;

/// A token for `user_id` that [`verify_token`](super::verify_token) accepts
/// under the same config for `ttl` (with the configured issuer, if any).
pub fn mint_user_token(
    config: &RuntimeConfig,
    user_id: &str,
    email: &str,
    ttl: chrono::Duration,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user_id,
        "email": email,
        "aud": AUDIENCE,
        "role": "authenticated",
        "iat": now,
        "exp": now + ttl.num_seconds(),
    });
    if let Some(iss) = &config.supabase_jwt_issuer {
        claims["iss"] = iss.clone().into();
    }
    let key = EncodingKey::from_secret(config.supabase_jwt_secret.expose_secret().as_bytes());
    encode(&Header::default(), &claims, &key).expect("HS256 signing cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify_token;
    use crate::config::{self, VarSet};

    fn config_with(secret: &str) -> RuntimeConfig {
        let vars = VarSet::from_pairs([
            ("ENVIRONMENT", "local"),
            ("SUPABASE_JWT_SECRET", secret),
            ("SUPABASE_JWT_ISSUER", "https://x.supabase.co/auth/v1"),
            (
                "ENCRYPTION_KEY",
                "test-enc-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
            ),
            (
                "CSRF_SECRET_KEY",
                "test-csrf-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
            ),
            ("KDF_SALT", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ]);
        config::validate(&vars, chrono::Utc::now()).expect("valid test config")
    }

    #[test]
    fn minted_token_verifies_and_expires() {
        let config = config_with("test-jwt-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c");
        let token = mint_user_token(
            &config,
            "u-1",
            "u@example.com",
            chrono::Duration::minutes(5),
        );
        let claims = verify_token(&config, &token).unwrap();
        assert_eq!(claims.sub, "u-1");
        assert_eq!(claims.email.as_deref(), Some("u@example.com"));
        assert_eq!(claims.iss.as_deref(), Some("https://x.supabase.co/auth/v1"));

        let expired = mint_user_token(
            &config,
            "u-1",
            "u@example.com",
            chrono::Duration::minutes(-5),
        );
        assert!(verify_token(&config, &expired).is_err());
        let other = config_with("another-secret-0123456789abcdef0123456789");
        assert!(verify_token(&other, &token).is_err());
    }
}
