//! Development tokens: HS256 JWTs shaped like Supabase's, signed with the
//! configured `SUPABASE_JWT_SECRET`. Used by `valdrix serve` only.

use jsonwebtoken::{EncodingKey, Header, encode};
use secrecy::ExposeSecret;
use serde_json::json;
use valdrix_shared::config::RuntimeConfig;

pub fn mint(config: &RuntimeConfig, user_id: &str, email: &str, ttl: chrono::Duration) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user_id,
        "email": email,
        "aud": "authenticated",
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
