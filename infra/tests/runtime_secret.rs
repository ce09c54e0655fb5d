//! The runtime secret path of the contract against moto's Secrets Manager.

use std::process::{Command, Output};

use aws_sdk_secretsmanager::Client;
use serde_json::json;
use valdrix_tests::emulator_endpoint;

fn moto() -> String {
    emulator_endpoint(
        "VALDRIX_TEST_MOTO_ENDPOINT",
        "moto (Secrets Manager emulator)",
    )
}

async fn client(endpoint: &str) -> Client {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await;
    Client::new(&cfg)
}

/// Store `body` as a new secret with a unique name; returns its ARN.
async fn put_secret(endpoint: &str, body: &str) -> String {
    let name = format!(
        "valdrix/runtime/{}",
        std::process::id() as u128 * 1_000_000 + nanos()
    );
    client(endpoint)
        .await
        .create_secret()
        .name(name)
        .secret_string(body)
        .send()
        .await
        .expect("create secret in moto")
        .arn
        .expect("arn")
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

const JWT: &str = "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY";
const ENC: &str = "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc";
const CSRF: &str = "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt";
const ADMIN: &str = "adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vBn";
const SALT: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The secrets live in Secrets Manager; env holds only the plain settings.
fn secret_body() -> String {
    json!({
        "SUPABASE_JWT_SECRET": JWT,
        "ENCRYPTION_KEY": ENC,
        "CSRF_SECRET_KEY": CSRF,
        "ADMIN_API_KEY": ADMIN,
        "KDF_SALT": SALT,
        "GROQ_API_KEY": "gsk_live_9f8e7d6c5b4a3f2e1d0c",
        "PAYSTACK_SECRET_KEY": "sk_live_4f3e2d1c0b9a8f7e6d5c",
        "PAYSTACK_PUBLIC_KEY": "pk_live_1a2b3c4d5e6f",
        "SAAS_STRICT_INTEGRATIONS": true
    })
    .to_string()
}

fn run(endpoint: &str, arn: &str, extra: &[(&str, &str)]) -> Output {
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(24)).to_rfc3339();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_valdrix"));
    cmd.arg("validate-runtime-env")
        .env_clear()
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("VALDRIX_RUNTIME_SECRET_ARN", arn)
        .env("ENVIRONMENT", "production")
        .env("DATABASE_URL", "dynamodb://valdrix-prod")
        .env("LLM_PROVIDER", "groq")
        .env("CORS_ORIGINS", r#"["https://app.valdrix.io"]"#)
        .env("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "true")
        .env("FORECASTER_BREAK_GLASS_REASON", "INC-4211 prophet wheel")
        .env("FORECASTER_BREAK_GLASS_EXPIRES_AT", expiry);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("run valdrix")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_secret(out: &Output) {
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    for s in [JWT, ENC, CSRF, ADMIN, SALT] {
        assert!(!all.contains(s), "output leaks a secret");
    }
}

#[tokio::test]
async fn secret_fills_what_env_leaves_unset() {
    let endpoint = moto();
    let arn = put_secret(&endpoint, &secret_body()).await;
    let out = run(&endpoint, &arn, &[("ADMIN_API_KEY", "")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_secret(&out);
}

#[tokio::test]
async fn env_wins_over_the_secret() {
    let endpoint = moto();
    let arn = put_secret(&endpoint, &secret_body()).await;
    // A weak key in env shadows the good one in the secret.
    let out = run(&endpoint, &arn, &[("ADMIN_API_KEY", "weak-admin-key")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("\nADMIN_API_KEY: must be at least 32"),
        "{err}"
    );
    assert!(!err.contains("weak-admin-key"));
    assert_no_secret(&out);
}

#[tokio::test]
async fn non_json_secret_is_a_violation() {
    let endpoint = moto();
    let arn = put_secret(&endpoint, "SUPABASE_JWT_SECRET=abc").await;
    let out = run(&endpoint, &arn, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("\nVALDRIX_RUNTIME_SECRET_ARN: the secret's value is not valid JSON"),
        "{err}"
    );
    // The env-side problems are still listed in the same run.
    assert!(err.contains("\nSUPABASE_JWT_SECRET: must be set"), "{err}");
}

#[tokio::test]
async fn unreadable_secret_is_a_violation() {
    let endpoint = moto();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:valdrix/missing-AbCdEf";
    let out = run(&endpoint, arn, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("\nVALDRIX_RUNTIME_SECRET_ARN: the secret could not be read from Secrets Manager (ResourceNotFoundException)"),
        "{err}"
    );
}
