//! `valdrix validate-runtime-env` end to end: the real binary, a clean env.

use std::process::{Command, Output};

use chrono::{Duration, Utc};

const SECRETS: [&str; 6] = [
    "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY",
    "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc",
    "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt",
    "adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vBn",
    "gsk_live_9f8e7d6c5b4a3f2e1d0c",
    "sk_live_4f3e2d1c0b9a8f7e6d5c",
];

fn production_env() -> Vec<(String, String)> {
    production_env_with_waiver_hours(72)
}

/// The checklist's production env, its waiver ending `hours` from now.
fn production_env_with_waiver_hours(hours: i64) -> Vec<(String, String)> {
    let expiry = (Utc::now() + Duration::hours(hours)).to_rfc3339();
    [
        ("ENVIRONMENT", "production"),
        ("DATABASE_URL", "dynamodb://valdrix-prod"),
        ("SUPABASE_JWT_SECRET", SECRETS[0]),
        ("ENCRYPTION_KEY", SECRETS[1]),
        ("CSRF_SECRET_KEY", SECRETS[2]),
        ("ADMIN_API_KEY", SECRETS[3]),
        ("KDF_SALT", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ("LLM_PROVIDER", "groq"),
        ("GROQ_API_KEY", SECRETS[4]),
        ("PAYSTACK_SECRET_KEY", SECRETS[5]),
        ("PAYSTACK_PUBLIC_KEY", "pk_live_1a2b3c4d5e6f"),
        ("CORS_ORIGINS", r#"["https://app.valdrix.io"]"#),
        ("SAAS_STRICT_INTEGRATIONS", "true"),
        ("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "true"),
        ("FORECASTER_BREAK_GLASS_REASON", "INC-4211 prophet wheel"),
        ("FORECASTER_BREAK_GLASS_EXPIRES_AT", expiry.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn valdrix(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run valdrix")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_secret(out: &Output) {
    let (stdout, stderr) = text(out);
    for s in SECRETS {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "output leaks a secret"
        );
    }
}

#[test]
fn checklist_production_env_passes() {
    let out = valdrix(&["validate-runtime-env"], &production_env());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "runtime_env_validation_passed environment=production"
    );
    // This build has no prophet: the waiver's deadline is reported.
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[1].starts_with("forecaster_waiver expires_at="),
        "{stdout}"
    );
    let hours: f64 = lines[1]
        .rsplit("hours_left=")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((71.8..=72.0).contains(&hours), "{stdout}");
    assert_eq!(stderr, "", "no warning 72 h ahead");
    assert_no_secret(&out);
}

#[test]
fn a_waiver_inside_its_last_48_hours_passes_with_a_warning() {
    let out = valdrix(
        &["validate-runtime-env"],
        &production_env_with_waiver_hours(30),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "it still holds: {stderr}");
    assert!(stdout.contains("forecaster_waiver expires_at="), "{stdout}");
    assert!(
        stderr.starts_with("warning: the forecaster waiver ends in 29.9 h")
            || stderr.starts_with("warning: the forecaster waiver ends in 30 h"),
        "{stderr}"
    );
    assert!(
        stderr.contains("FORECASTER_BREAK_GLASS_EXPIRES_AT"),
        "{stderr}"
    );

    let json = valdrix(
        &["validate-runtime-env", "--format", "json"],
        &production_env_with_waiver_hours(30),
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["forecaster_waiver"]["expiring"], true, "{report}");
    assert!(report["forecaster_waiver"]["hours_left"].as_f64().unwrap() < 48.0);
}

#[test]
fn each_broken_rule_fails_naming_only_that_variable() {
    let cases = [
        ("ENVIRONMENT", "Production "),
        ("ADMIN_API_KEY", "too-short-admin-key"),
        ("KDF_SALT", "YQ=="),
        ("CORS_ORIGINS", r#"["*"]"#),
        ("PAYSTACK_SECRET_KEY", "sk_test_0000000000"),
        ("SAAS_STRICT_INTEGRATIONS", "false"),
        ("FORECASTER_BREAK_GLASS_EXPIRES_AT", "2020-01-01T00:00:00Z"),
        ("JIRA_API_TOKEN", SECRETS[1]),
    ];
    for (var, value) in cases {
        let mut env = production_env();
        env.retain(|(k, _)| k != var);
        env.push((var.to_string(), value.to_string()));
        let out = valdrix(&["validate-runtime-env"], &env);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{var}");
        assert!(stdout.is_empty(), "{var}: {stdout}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines[0].starts_with("runtime_env_validation_failed "),
            "{var}: {stderr}"
        );
        assert_eq!(lines.len(), 2, "{var}: {stderr}");
        assert!(lines[1].starts_with(&format!("{var}: ")), "{var}: {stderr}");
        assert_no_secret(&out);
        if var == "JIRA_API_TOKEN" || var == "PAYSTACK_SECRET_KEY" {
            assert!(!stderr.contains(value), "{var} value printed");
        }
    }
}

#[test]
fn json_format_reports_every_violation_with_the_same_exit_codes() {
    let mut env = production_env();
    env.retain(|(k, _)| k != "LLM_PROVIDER" && k != "DATABASE_URL");
    let out = valdrix(&["validate-runtime-env", "--format", "json"], &env);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["environment"], "production");
    let vars: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variable"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["DATABASE_URL", "LLM_PROVIDER"]);
    assert!(report["violations"][0]["rule"].as_str().unwrap().len() > 5);

    let ok = valdrix(
        &["validate-runtime-env", "--format", "json"],
        &production_env(),
    );
    assert_eq!(ok.status.code(), Some(0));
    let mut report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    let waiver = report
        .as_object_mut()
        .unwrap()
        .remove("forecaster_waiver")
        .expect("the waiver is reported");
    assert_eq!(waiver["expiring"], false, "{waiver}");
    assert!(
        waiver["expires_at"].as_str().unwrap().ends_with('Z'),
        "{waiver}"
    );
    assert_eq!(
        report,
        serde_json::json!({"ok": true, "environment": "production", "violations": []})
    );
    assert_no_secret(&ok);
}

#[test]
fn environment_flag_overrides_env() {
    let mut env = production_env();
    env.retain(|(k, _)| k != "ENVIRONMENT");
    // Development passes without the production-only settings...
    env.retain(|(k, _)| k != "PAYSTACK_SECRET_KEY");
    let dev = valdrix(&["validate-runtime-env"], &env);
    assert_eq!(dev.status.code(), Some(0));
    assert_eq!(
        text(&dev).0,
        "runtime_env_validation_passed environment=development\n"
    );
    // ...and the flag makes the same env production, which needs them.
    let prod = valdrix(
        &["validate-runtime-env", "--environment", "production"],
        &env,
    );
    assert_eq!(prod.status.code(), Some(1));
    assert!(text(&prod).1.contains("PAYSTACK_SECRET_KEY: "));
}

#[test]
fn env_file_checks_only_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prod.env");
    let body: String = production_env()
        .iter()
        .map(|(k, v)| format!("{k}='{v}'\n"))
        .collect();
    std::fs::write(&file, body).unwrap();
    let path = file.to_str().unwrap();
    // The process env is broken; the file is what counts.
    let broken = vec![("ENVIRONMENT".to_string(), "nonsense".to_string())];
    let out = valdrix(&["validate-runtime-env", "--env-file", path], &broken);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(
        text(&out).0.starts_with(
            "runtime_env_validation_passed environment=production\nforecaster_waiver "
        ),
        "{:?}",
        text(&out)
    );

    std::fs::write(&file, "ENVIRONMENT=staging\nSLACK_CHANNEL_ID=C1\n").unwrap();
    let out = valdrix(&["validate-runtime-env", "--env-file", path], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out).1;
    assert!(stderr.starts_with("runtime_env_validation_failed environment=staging "));
    assert!(stderr.contains("\nADMIN_API_KEY: "));
}

#[test]
fn usage_errors_exit_2() {
    let out = valdrix(&["validate-runtime-env", "--environment", "prod"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = valdrix(&["validate-runtime-env", "--format", "yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = valdrix(
        &["validate-runtime-env", "--env-file", "/nonexistent/x.env"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("cannot read env file /nonexistent/x.env: entity not found"),
        "{}",
        text(&out).1
    );
}
