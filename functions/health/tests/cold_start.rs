//! "Startup fails by design": with a broken contract the function exits at
//! init, logging every violation, and never asks the Runtime API for work.

use std::process::Command;

#[test]
fn broken_contract_aborts_init_with_every_violation_logged() {
    let out = Command::new(env!("CARGO_BIN_EXE_health"))
        .env_clear()
        .env("ENVIRONMENT", "production")
        .env("SUPABASE_JWT_SECRET", "short-jwt-secret-value")
        // Any attempt to poll would go here and fail differently.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .expect("run health");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["message"] == "runtime contract violation")
        .collect();
    let vars: Vec<&str> = logged
        .iter()
        .map(|v| v["variable"].as_str().unwrap())
        .collect();
    for expected in [
        "SUPABASE_JWT_SECRET",
        "ENCRYPTION_KEY",
        "KDF_SALT",
        "ADMIN_API_KEY",
        "DATABASE_URL",
    ] {
        assert!(vars.contains(&expected), "{expected} not logged: {stderr}");
    }
    assert!(
        !stderr.contains("short-jwt-secret-value"),
        "secret value logged"
    );
    assert!(stderr.contains("runtime contract violated"), "{stderr}");
}
