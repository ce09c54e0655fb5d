//! JWT verification against the attack cases of `standards.md`: each must be
//! a 401 with a generic detail, and valid Supabase tokens must pass.

mod http_common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_common::{JWT_SECRET, config, config_with};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use valdrix_shared::auth::{
    EXPIRED_TOKEN, INVALID_TOKEN, LEEWAY_SECS, MISSING_TOKEN, UserClaims, bearer_token,
    verify_bearer, verify_token,
};
use valdrix_shared::config::RuntimeConfig;
use valdrix_shared::http::ApiError;

const ISSUER: &str = "https://abcd.supabase.co/auth/v1";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims() -> Value {
    json!({
        "sub": "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
        "email": "ana@example.com",
        "aud": "authenticated",
        "role": "authenticated",
        "iss": ISSUER,
        "iat": now(),
        "exp": now() + 3600,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn sign_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, JWT_SECRET, claims)
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn verify(cfg: &RuntimeConfig, token: &str) -> Result<UserClaims, ApiError> {
    verify_bearer(cfg, Some(&format!("Bearer {token}")))
}

#[track_caller]
fn assert_401(result: Result<UserClaims, ApiError>, detail: &str) {
    match result {
        Err(ApiError::Unauthorized(d)) => assert_eq!(d, detail),
        other => panic!("expected 401 {detail:?}, got {other:?}"),
    }
}

#[test]
fn a_valid_supabase_token_yields_its_claims() {
    let got = verify(&config(), &sign(&claims())).unwrap();
    assert_eq!(got.sub, "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b");
    assert_eq!(got.email.as_deref(), Some("ana@example.com"));
    assert_eq!(got.iss.as_deref(), Some(ISSUER));
}

#[test]
fn email_is_optional_and_sub_may_be_any_string() {
    let c = with(without(claims(), "email"), "sub", json!("auth0|user-42"));
    let got = verify(&config(), &sign(&c)).unwrap();
    assert_eq!(got.sub, "auth0|user-42");
    assert_eq!(got.email, None);
}

#[test]
fn odd_subs_are_401_not_500() {
    for sub in [
        json!(""),
        json!("   "),
        json!(42),
        json!(null),
        json!("a\nb"),
        json!("x".repeat(300)),
    ] {
        assert_401(
            verify(&config(), &sign(&with(claims(), "sub", sub))),
            INVALID_TOKEN,
        );
    }
    assert_401(
        verify(&config(), &sign(&without(claims(), "sub"))),
        INVALID_TOKEN,
    );
}

#[test]
fn wrong_secret_is_rejected() {
    let token = sign_with(
        Algorithm::HS256,
        "another-secret-of-sufficient-length!!",
        &claims(),
    );
    assert_401(verify(&config(), &token), INVALID_TOKEN);
}

#[test]
fn tampered_payload_is_rejected() {
    let token = sign(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = b64(&with(claims(), "sub", json!("someone-else")));
    parts[1] = &forged;
    assert_401(verify(&config(), &parts.join(".")), INVALID_TOKEN);
}

#[test]
fn alg_none_is_rejected() {
    let header = b64(&json!({"alg": "none", "typ": "JWT"}));
    let token = format!("{header}.{}.", b64(&claims()));
    assert_401(verify(&config(), &token), INVALID_TOKEN);
    // …also with the HS256 signature of the same payload left in place.
    let real_sig = sign(&claims()).rsplit('.').next().unwrap().to_owned();
    assert_401(
        verify(&config(), &format!("{token}{real_sig}")),
        INVALID_TOKEN,
    );
}

#[test]
fn other_hmac_strengths_are_rejected_even_with_the_right_secret() {
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        assert_401(
            verify(&config(), &sign_with(alg, JWT_SECRET, &claims())),
            INVALID_TOKEN,
        );
    }
}

#[test]
fn asymmetric_algorithm_headers_are_rejected() {
    for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        let sig = URL_SAFE_NO_PAD.encode([7u8; 256]);
        let token = format!("{header}.{}.{sig}", b64(&claims()));
        assert_401(verify(&config(), &token), INVALID_TOKEN);
    }
}

#[test]
fn key_location_headers_are_ignored() {
    // A jku/x5u/kid never chooses the key: signed with another secret, it fails…
    let mut header = Header::new(Algorithm::HS256);
    header.jku = Some("https://attacker.example/jwks.json".into());
    header.kid = Some("../../dev/null".into());
    let other = EncodingKey::from_secret(b"attacker-chosen-secret-0123456789abcdef");
    assert_401(
        verify(&config(), &encode(&header, &claims(), &other).unwrap()),
        INVALID_TOKEN,
    );
    // …and signed with ours, the extra headers change nothing.
    let ours = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    assert!(verify(&config(), &encode(&header, &claims(), &ours).unwrap()).is_ok());
}

#[test]
fn expiry_has_exactly_the_documented_leeway() {
    let leeway = LEEWAY_SECS as i64;
    assert_eq!(leeway, 30);
    let within = with(claims(), "exp", json!(now() - leeway + 5));
    assert!(verify(&config(), &sign(&within)).is_ok());
    let beyond = with(claims(), "exp", json!(now() - leeway - 5));
    assert_401(verify(&config(), &sign(&beyond)), EXPIRED_TOKEN);
    let long_gone = with(claims(), "exp", json!(now() - 61));
    assert_401(verify(&config(), &sign(&long_gone)), EXPIRED_TOKEN);
}

#[test]
fn exp_is_required_and_must_be_a_number() {
    assert_401(
        verify(&config(), &sign(&without(claims(), "exp"))),
        INVALID_TOKEN,
    );
    let text = with(claims(), "exp", json!("tomorrow"));
    assert_401(verify(&config(), &sign(&text)), INVALID_TOKEN);
}

#[test]
fn nbf_in_the_future_is_rejected_beyond_the_leeway() {
    let soon = with(claims(), "nbf", json!(now() + 10));
    assert!(verify(&config(), &sign(&soon)).is_ok());
    let later = with(claims(), "nbf", json!(now() + 120));
    assert_401(verify(&config(), &sign(&later)), INVALID_TOKEN);
}

#[test]
fn audience_must_be_authenticated() {
    for aud in [
        json!("anon"),
        json!("service_role"),
        json!(["anon"]),
        json!(""),
    ] {
        assert_401(
            verify(&config(), &sign(&with(claims(), "aud", aud))),
            INVALID_TOKEN,
        );
    }
    assert_401(
        verify(&config(), &sign(&without(claims(), "aud"))),
        INVALID_TOKEN,
    );
}

#[test]
fn issuer_is_checked_only_when_configured() {
    let strict = config_with(&[("SUPABASE_JWT_ISSUER", ISSUER)]);
    assert!(verify(&strict, &sign(&claims())).is_ok());
    let foreign = with(claims(), "iss", json!("https://other.supabase.co/auth/v1"));
    assert_401(verify(&strict, &sign(&foreign)), INVALID_TOKEN);
    assert_401(
        verify(&strict, &sign(&without(claims(), "iss"))),
        INVALID_TOKEN,
    );

    // Not configured: any issuer, or none, is accepted.
    assert!(verify(&config(), &sign(&foreign)).is_ok());
    assert!(verify(&config(), &sign(&without(claims(), "iss"))).is_ok());
}

#[test]
fn garbage_tokens_are_401() {
    let cfg = config();
    for token in [
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
        "\u{1F600}.\u{1F600}.\u{1F600}",
    ] {
        assert_401(verify_token(&cfg, token), INVALID_TOKEN);
    }
}

#[test]
fn header_must_carry_a_bearer_token() {
    let cfg = config();
    let token = sign(&claims());
    for header in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some("Bearer    "),
        Some("Basic dXNlcjpwYXNz"),
        Some("Token abc"),
        Some(token.as_str()),
    ] {
        assert_401(verify_bearer(&cfg, header), MISSING_TOKEN);
    }
}

#[test]
fn the_scheme_is_case_insensitive() {
    let token = sign(&claims());
    for scheme in ["Bearer", "bearer", "BEARER"] {
        assert_eq!(
            bearer_token(Some(&format!("{scheme} {token}"))).unwrap(),
            token
        );
        assert!(verify_bearer(&config(), Some(&format!("{scheme} {token}"))).is_ok());
    }
}

#[test]
fn a_token_with_inner_whitespace_is_invalid_not_missing() {
    assert_401(
        verify_bearer(&config(), Some("Bearer abc def")),
        INVALID_TOKEN,
    );
}
