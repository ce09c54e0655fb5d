//! Table-driven tests of the whole contract: a checklist-conformant production
//! env passes, and each rule broken alone names exactly its variable.

use chrono::{DateTime, Duration, TimeZone, Utc};
use secrecy::ExposeSecret;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

const JWT: &str = "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY";
const ENC: &str = "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc";
const CSRF: &str = "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt";
const ADMIN: &str = "adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vBn";
const SALT: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const GROQ: &str = "gsk_live_9f8e7d6c5b4a3f2e1d0c";
const PAYSTACK_SK: &str = "sk_live_4f3e2d1c0b9a8f7e6d5c";

/// A production env that follows the checklist to the letter.
fn production() -> VarSet {
    VarSet::from_pairs([
        ("ENVIRONMENT", "production".to_string()),
        ("DATABASE_URL", "dynamodb://valdrix-prod".into()),
        ("SUPABASE_JWT_SECRET", JWT.into()),
        ("ENCRYPTION_KEY", ENC.into()),
        ("KDF_SALT", SALT.into()),
        ("CSRF_SECRET_KEY", CSRF.into()),
        ("ADMIN_API_KEY", ADMIN.into()),
        ("LLM_PROVIDER", "groq".into()),
        ("GROQ_API_KEY", GROQ.into()),
        ("PAYSTACK_SECRET_KEY", PAYSTACK_SK.into()),
        ("PAYSTACK_PUBLIC_KEY", "pk_live_1a2b3c4d5e6f".into()),
        ("CORS_ORIGINS", r#"["https://app.valdrix.io"]"#.into()),
        ("SAAS_STRICT_INTEGRATIONS", "true".into()),
        ("SLACK_BOT_TOKEN", "xoxb-123-456-abcdefghijkl".into()),
        ("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "true".into()),
        (
            "FORECASTER_BREAK_GLASS_REASON",
            "INC-4211 prophet wheel".into(),
        ),
        (
            "FORECASTER_BREAK_GLASS_EXPIRES_AT",
            (now() + Duration::hours(48)).to_rfc3339(),
        ),
    ])
}

fn with(mut vars: VarSet, changes: &[(&str, &str)]) -> VarSet {
    for (k, v) in changes {
        vars.set(*k, *v);
    }
    vars
}

fn names(result: Result<RuntimeConfig, Vec<Violation>>) -> Vec<String> {
    match result {
        Ok(_) => vec![],
        Err(v) => v.into_iter().map(|v| v.variable).collect(),
    }
}

#[test]
fn checklist_production_env_passes() {
    let cfg = validate(&production(), now()).expect("production env should pass");
    assert_eq!(cfg.environment, Environment::Production);
    assert!(cfg.strict_integrations);
    assert_eq!(cfg.cors_origins, ["https://app.valdrix.io"]);
    assert_eq!(cfg.kdf_salt.expose_secret()[31], 31);
    assert!(matches!(
        cfg.forecaster,
        Forecaster::HoltWintersBreakGlass { .. }
    ));
    assert!(matches!(cfg.store, Some(StoreUrl::DynamoDb { .. })));
}

#[test]
fn development_needs_only_the_core_secrets() {
    let vars = VarSet::from_pairs([
        ("SUPABASE_JWT_SECRET", JWT),
        ("ENCRYPTION_KEY", ENC),
        ("KDF_SALT", SALT),
        ("CSRF_SECRET_KEY", CSRF),
    ]);
    let cfg = validate(&vars, now()).unwrap();
    assert_eq!(cfg.environment, Environment::Development);
    assert_eq!(cfg.forecaster, Forecaster::HoltWinters);
    assert!(cfg.store.is_none());
}

/// Each row breaks one rule of a passing production env; exactly that variable
/// must be named, once.
#[test]
fn each_rule_broken_alone_names_exactly_its_variable() {
    let beyond_max = (now() + Duration::hours(169)).to_rfc3339();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "environment typo",
            vec![("ENVIRONMENT", "prod")],
            "ENVIRONMENT",
        ),
        (
            "environment case",
            vec![("ENVIRONMENT", "Production ")],
            "ENVIRONMENT",
        ),
        (
            "jwt unset",
            vec![("SUPABASE_JWT_SECRET", "")],
            "SUPABASE_JWT_SECRET",
        ),
        (
            "jwt short",
            vec![("SUPABASE_JWT_SECRET", "short-but-random-9f8e7d")],
            "SUPABASE_JWT_SECRET",
        ),
        (
            "jwt placeholder",
            vec![(
                "SUPABASE_JWT_SECRET",
                "change_me_change_me_change_me_change_me",
            )],
            "SUPABASE_JWT_SECRET",
        ),
        (
            "enc short",
            vec![("ENCRYPTION_KEY", "x1y2z3")],
            "ENCRYPTION_KEY",
        ),
        (
            "csrf placeholder",
            vec![("CSRF_SECRET_KEY", "dev_secret_key_change_me_in_prod")],
            "CSRF_SECRET_KEY",
        ),
        ("salt unset", vec![("KDF_SALT", "")], "KDF_SALT"),
        ("salt not base64", vec![("KDF_SALT", "@@@@")], "KDF_SALT"),
        (
            "salt 16 bytes",
            vec![("KDF_SALT", "AAECAwQFBgcICQoLDA0ODw==")],
            "KDF_SALT",
        ),
        ("admin unset", vec![("ADMIN_API_KEY", "")], "ADMIN_API_KEY"),
        (
            "admin short",
            vec![("ADMIN_API_KEY", "0123456789abcdef")],
            "ADMIN_API_KEY",
        ),
        ("db unset", vec![("DATABASE_URL", "")], "DATABASE_URL"),
        (
            "db sqlite",
            vec![("DATABASE_URL", "sqlite://x.db")],
            "DATABASE_URL",
        ),
        (
            "db emulator",
            vec![(
                "DATABASE_URL",
                "dynamodb://t1x?endpoint=http://127.0.0.1:8000",
            )],
            "DATABASE_URL",
        ),
        (
            "db postgres",
            vec![("DATABASE_URL", "postgres://u@h/db")],
            "DATABASE_URL",
        ),
        ("cors unset", vec![("CORS_ORIGINS", "")], "CORS_ORIGINS"),
        (
            "cors star",
            vec![("CORS_ORIGINS", r#"["*"]"#)],
            "CORS_ORIGINS",
        ),
        (
            "cors http",
            vec![("CORS_ORIGINS", r#"["http://app.valdrix.io"]"#)],
            "CORS_ORIGINS",
        ),
        (
            "cors path",
            vec![("CORS_ORIGINS", r#"["https://app.valdrix.io/ui"]"#)],
            "CORS_ORIGINS",
        ),
        (
            "cors localhost",
            vec![("CORS_ORIGINS", r#"["https://localhost:3000"]"#)],
            "CORS_ORIGINS",
        ),
        (
            "cors loopback",
            vec![("CORS_ORIGINS", r#"["https://127.0.0.1"]"#)],
            "CORS_ORIGINS",
        ),
        (
            "cors not json",
            vec![("CORS_ORIGINS", "https://app.valdrix.io")],
            "CORS_ORIGINS",
        ),
        ("llm unset", vec![("LLM_PROVIDER", "")], "LLM_PROVIDER"),
        (
            "llm unknown",
            vec![("LLM_PROVIDER", "mistral")],
            "LLM_PROVIDER",
        ),
        (
            "llm key missing",
            vec![("GROQ_API_KEY", "")],
            "GROQ_API_KEY",
        ),
        (
            "openai key missing",
            vec![("LLM_PROVIDER", "openai")],
            "OPENAI_API_KEY",
        ),
        (
            "paystack test secret",
            vec![("PAYSTACK_SECRET_KEY", "sk_test_abc123")],
            "PAYSTACK_SECRET_KEY",
        ),
        (
            "paystack secret unset",
            vec![("PAYSTACK_SECRET_KEY", "")],
            "PAYSTACK_SECRET_KEY",
        ),
        (
            "paystack test public",
            vec![("PAYSTACK_PUBLIC_KEY", "pk_test_abc123")],
            "PAYSTACK_PUBLIC_KEY",
        ),
        (
            "strict false",
            vec![("SAAS_STRICT_INTEGRATIONS", "false")],
            "SAAS_STRICT_INTEGRATIONS",
        ),
        (
            "strict unset",
            vec![("SAAS_STRICT_INTEGRATIONS", "")],
            "SAAS_STRICT_INTEGRATIONS",
        ),
        (
            "strict not bool",
            vec![("SAAS_STRICT_INTEGRATIONS", "maybe")],
            "SAAS_STRICT_INTEGRATIONS",
        ),
        (
            "slack channel",
            vec![("SLACK_CHANNEL_ID", "C0123")],
            "SLACK_CHANNEL_ID",
        ),
        (
            "jira base",
            vec![("JIRA_BASE_URL", "https://x.atlassian.net")],
            "JIRA_BASE_URL",
        ),
        ("jira email", vec![("JIRA_EMAIL", "ops@x.io")], "JIRA_EMAIL"),
        (
            "jira token",
            vec![("JIRA_API_TOKEN", "tok")],
            "JIRA_API_TOKEN",
        ),
        (
            "jira project",
            vec![("JIRA_PROJECT_KEY", "OPS")],
            "JIRA_PROJECT_KEY",
        ),
        (
            "github any",
            vec![("GITHUB_ACTIONS_OWNER", "acme")],
            "GITHUB_ACTIONS_OWNER",
        ),
        (
            "github token",
            vec![("GITHUB_ACTIONS_TOKEN", "ghp_x")],
            "GITHUB_ACTIONS_TOKEN",
        ),
        (
            "gitlab any",
            vec![("GITLAB_CI_TRIGGER_TOKEN", "glptt")],
            "GITLAB_CI_TRIGGER_TOKEN",
        ),
        (
            "webhook any",
            vec![("GENERIC_CI_WEBHOOK_URL", "https://h.io")],
            "GENERIC_CI_WEBHOOK_URL",
        ),
        (
            "fallback false",
            vec![("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "false")],
            "FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK",
        ),
        (
            "fallback not bool",
            vec![("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "sure")],
            "FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK",
        ),
        (
            "reason unset",
            vec![("FORECASTER_BREAK_GLASS_REASON", "")],
            "FORECASTER_BREAK_GLASS_REASON",
        ),
        (
            "reason 9 after trim",
            vec![("FORECASTER_BREAK_GLASS_REASON", "   INC-12345   ")],
            "FORECASTER_BREAK_GLASS_REASON",
        ),
        (
            "expiry unset",
            vec![("FORECASTER_BREAK_GLASS_EXPIRES_AT", "")],
            "FORECASTER_BREAK_GLASS_EXPIRES_AT",
        ),
        (
            "expiry date only",
            vec![("FORECASTER_BREAK_GLASS_EXPIRES_AT", "2026-11-28")],
            "FORECASTER_BREAK_GLASS_EXPIRES_AT",
        ),
        (
            "expiry naive",
            vec![("FORECASTER_BREAK_GLASS_EXPIRES_AT", "2026-11-28T10:00:00")],
            "FORECASTER_BREAK_GLASS_EXPIRES_AT",
        ),
        (
            "expiry past",
            vec![("FORECASTER_BREAK_GLASS_EXPIRES_AT", "2026-11-01T00:00:00Z")],
            "FORECASTER_BREAK_GLASS_EXPIRES_AT",
        ),
        (
            "expiry too far",
            vec![("FORECASTER_BREAK_GLASS_EXPIRES_AT", beyond_max.as_str())],
            "FORECASTER_BREAK_GLASS_EXPIRES_AT",
        ),
        (
            "max hours bad",
            vec![("FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS", "0")],
            "FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS",
        ),
        (
            "fallback keys bad",
            vec![("ENCRYPTION_KEY_FALLBACKS", r#"["short"]"#)],
            "ENCRYPTION_KEY_FALLBACKS",
        ),
        (
            "private outbound",
            vec![("VALDRIX_ALLOW_PRIVATE_OUTBOUND", "yes")],
            "VALDRIX_ALLOW_PRIVATE_OUTBOUND",
        ),
        (
            "fake Slack API",
            vec![("VALDRIX_SLACK_API_URL", "http://127.0.0.1:9/api/")],
            "VALDRIX_SLACK_API_URL",
        ),
        (
            "fake GitHub API",
            vec![("VALDRIX_GITHUB_API_URL", "https://github.example.com/")],
            "VALDRIX_GITHUB_API_URL",
        ),
    ];
    for (label, changes, expected) in cases {
        let got = names(validate(&with(production(), &changes), now()));
        assert_eq!(got, [expected], "{label}");
    }
}

#[test]
fn vendor_api_overrides_are_base_urls_outside_strict_environments() {
    let core = [
        ("SUPABASE_JWT_SECRET", JWT),
        ("ENCRYPTION_KEY", ENC),
        ("KDF_SALT", SALT),
        ("CSRF_SECRET_KEY", CSRF),
    ];
    let local = |extra: &[(&str, &str)]| {
        let mut vars = VarSet::from_pairs(core);
        vars.set("ENVIRONMENT", "local");
        with(vars, extra)
    };
    let cfg = validate(
        &local(&[
            ("VALDRIX_SLACK_API_URL", "http://127.0.0.1:4100/api"),
            ("VALDRIX_GITHUB_API_URL", "http://127.0.0.1:4101/"),
        ]),
        now(),
    )
    .unwrap();
    let url = |u: &Option<url::Url>| u.as_ref().map(url::Url::to_string);
    assert_eq!(
        url(&cfg.slack_api_url).as_deref(),
        Some("http://127.0.0.1:4100/api/")
    );
    assert_eq!(
        url(&cfg.github_api_url).as_deref(),
        Some("http://127.0.0.1:4101/")
    );
    assert!(
        validate(&local(&[]), now())
            .unwrap()
            .slack_api_url
            .is_none()
    );
    for bad in [
        "slack.com/api",
        "ftp://127.0.0.1/",
        "http://127.0.0.1/api?x=1",
    ] {
        let got = names(validate(&local(&[("VALDRIX_SLACK_API_URL", bad)]), now()));
        assert_eq!(got, ["VALDRIX_SLACK_API_URL"], "{bad}");
    }
}

#[test]
fn slack_bot_token_stays_allowed_in_strict_mode() {
    let vars = with(production(), &[("SLACK_BOT_TOKEN", "xoxb-1-2-3")]);
    assert!(validate(&vars, now()).is_ok());
}

#[test]
fn strict_mode_forbids_operator_integrations_in_every_environment() {
    for env in ["local", "development", "staging"] {
        let vars = with(
            production(),
            &[
                ("ENVIRONMENT", env),
                ("JIRA_EMAIL", "ops@x.io"),
                ("GITLAB_CI_PROJECT_ID", "42"),
            ],
        );
        let got = names(validate(&vars, now()));
        assert_eq!(got, ["GITLAB_CI_PROJECT_ID", "JIRA_EMAIL"], "{env}");
    }
    // With strict mode off (outside production) they are allowed.
    let vars = with(
        production(),
        &[
            ("ENVIRONMENT", "staging"),
            ("SAAS_STRICT_INTEGRATIONS", "off"),
            ("JIRA_EMAIL", "ops@x.io"),
        ],
    );
    assert!(validate(&vars, now()).is_ok());
}

#[test]
fn anthropic_accepts_either_key() {
    for key in ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"] {
        let vars = with(
            production(),
            &[("LLM_PROVIDER", "anthropic"), (key, "sk-ant-123")],
        );
        assert!(validate(&vars, now()).is_ok(), "{key}");
    }
    let vars = with(production(), &[("LLM_PROVIDER", "anthropic")]);
    assert_eq!(names(validate(&vars, now())), ["ANTHROPIC_API_KEY"]);
}

#[test]
fn unknown_llm_provider_is_refused_outside_production_too() {
    let vars = with(
        production(),
        &[("ENVIRONMENT", "development"), ("LLM_PROVIDER", "gpt")],
    );
    assert_eq!(names(validate(&vars, now())), ["LLM_PROVIDER"]);
}

#[test]
fn secret_length_boundary_31_and_32() {
    let k32 = "k9Vw3Lp7Qx2Rt6Yz1Nm5Bc8Df4Gh0Js7A";
    let k32 = &k32[..32];
    let k31 = &k32[..31];
    assert!(validate(&with(production(), &[("ENCRYPTION_KEY", k32)]), now()).is_ok());
    assert_eq!(
        names(validate(
            &with(production(), &[("ENCRYPTION_KEY", k31)]),
            now()
        )),
        ["ENCRYPTION_KEY"]
    );
    assert!(validate(&with(production(), &[("ADMIN_API_KEY", k32)]), now()).is_ok());
    assert_eq!(
        names(validate(
            &with(production(), &[("ADMIN_API_KEY", k31)]),
            now()
        )),
        ["ADMIN_API_KEY"]
    );
}

#[test]
fn break_glass_expiry_boundaries() {
    let at = |d: Duration| (now() + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let check = |expiry: String, extra: &[(&str, &str)]| {
        let mut changes = vec![("FORECASTER_BREAK_GLASS_EXPIRES_AT", expiry.as_str())];
        changes.extend_from_slice(extra);
        names(validate(&with(production(), &changes), now()))
    };
    let expiry_var = ["FORECASTER_BREAK_GLASS_EXPIRES_AT"];
    assert_eq!(check(at(Duration::zero()), &[]), expiry_var, "exactly now");
    assert!(
        check(at(Duration::seconds(1)), &[]).is_empty(),
        "one second ahead"
    );
    assert!(check(at(Duration::hours(168)), &[]).is_empty(), "168 h");
    assert_eq!(
        check(at(Duration::hours(168) + Duration::seconds(1)), &[]),
        expiry_var,
        "168 h and 1 s"
    );
    assert!(
        check(
            at(Duration::hours(300)),
            &[("FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS", "336")]
        )
        .is_empty()
    );
    assert_eq!(
        check(
            at(Duration::hours(25)),
            &[("FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS", "24")]
        ),
        expiry_var
    );
    // An explicit offset is converted to UTC before comparing.
    let plus2 = (now() + Duration::hours(1))
        .with_timezone(&chrono::FixedOffset::east_opt(7200).unwrap())
        .to_rfc3339();
    assert!(check(plus2, &[]).is_empty());
}

#[test]
fn break_glass_reason_boundary_is_ten_trimmed_characters() {
    let ok = with(
        production(),
        &[("FORECASTER_BREAK_GLASS_REASON", "  INC-123456  ")],
    );
    assert!(validate(&ok, now()).is_ok());
}

#[test]
fn break_glass_is_not_needed_outside_staging_and_production() {
    let vars = with(
        production(),
        &[
            ("ENVIRONMENT", "development"),
            ("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", ""),
            ("FORECASTER_BREAK_GLASS_REASON", ""),
            ("FORECASTER_BREAK_GLASS_EXPIRES_AT", ""),
        ],
    );
    assert!(validate(&vars, now()).is_ok());
}

#[test]
fn empty_counts_as_unset_but_a_bad_value_is_a_violation() {
    // Empty forbidden variables are fine in strict mode.
    let vars = with(
        production(),
        &[("SLACK_CHANNEL_ID", ""), ("GITHUB_ACTIONS_TOKEN", "")],
    );
    assert!(validate(&vars, now()).is_ok());
    // Empty strict flag in production = unset = violation, same as a false.
    assert_eq!(
        names(validate(
            &with(production(), &[("SAAS_STRICT_INTEGRATIONS", "")]),
            now()
        )),
        ["SAAS_STRICT_INTEGRATIONS"]
    );
}

#[test]
fn unknown_environment_is_judged_as_production() {
    let vars = with(
        production(),
        &[
            ("ENVIRONMENT", "prod"),
            ("PAYSTACK_SECRET_KEY", "sk_test_1"),
        ],
    );
    assert_eq!(
        names(validate(&vars, now())),
        ["ENVIRONMENT", "PAYSTACK_SECRET_KEY"]
    );
}

#[test]
fn several_violations_are_reported_together() {
    let vars = VarSet::from_pairs([("ENVIRONMENT", "production"), ("KDF_SALT", "YQ==")]);
    let got = names(validate(&vars, now()));
    for expected in [
        "SUPABASE_JWT_SECRET",
        "ENCRYPTION_KEY",
        "CSRF_SECRET_KEY",
        "KDF_SALT",
        "ADMIN_API_KEY",
        "DATABASE_URL",
        "CORS_ORIGINS",
        "LLM_PROVIDER",
        "PAYSTACK_SECRET_KEY",
        "PAYSTACK_PUBLIC_KEY",
        "SAAS_STRICT_INTEGRATIONS",
        "FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK",
        "FORECASTER_BREAK_GLASS_REASON",
        "FORECASTER_BREAK_GLASS_EXPIRES_AT",
    ] {
        assert!(
            got.iter().any(|n| n == expected),
            "{expected} missing from {got:?}"
        );
    }
}

#[test]
fn no_violation_or_debug_output_holds_a_value() {
    let secrets = [
        JWT,
        ENC,
        CSRF,
        ADMIN,
        SALT,
        GROQ,
        PAYSTACK_SK,
        "sk_test_abc123",
        "short-but-random-9f8e7d",
    ];
    let broken = with(
        production(),
        &[
            ("ENVIRONMENT", "staging"),
            ("SUPABASE_JWT_SECRET", "short-but-random-9f8e7d"),
            ("PAYSTACK_SECRET_KEY", "sk_test_abc123"),
            ("JIRA_API_TOKEN", ENC),
        ],
    );
    let text = format!("{:?}", validate(&broken, now()).err().unwrap());
    let cfg = validate(&production(), now()).unwrap();
    let debug = format!("{cfg:?} {:?}", production());
    for secret in secrets {
        assert!(!text.contains(secret), "violation text leaks a value");
        assert!(!debug.contains(secret), "Debug leaks a value");
    }
}

#[test]
fn secret_values_lists_every_configured_secret() {
    let cfg = validate(&production(), now()).unwrap();
    let values = cfg.secret_values();
    for s in [JWT, ENC, CSRF, ADMIN, GROQ, PAYSTACK_SK] {
        assert!(values.contains(&s), "{s} missing");
    }
}
