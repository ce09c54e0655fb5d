//! The forecaster waiver's time left: what /health shows, the metric line
//! every cold start and dispatcher run emits, and the warning window.

use chrono::{Duration, Utc};
use serde_json::Value;
use valdrix_shared::config::{self, RuntimeConfig, VarSet};
use valdrix_shared::{metrics, waiver};

/// A production contract (this build has no `prophet`, so it needs the
/// waiver) whose waiver ends `hours` from now.
fn production(hours: i64) -> RuntimeConfig {
    let expires = (Utc::now() + Duration::hours(hours)).to_rfc3339();
    let vars = VarSet::from_pairs([
        ("ENVIRONMENT", "production".to_owned()),
        ("DATABASE_URL", "dynamodb://valdrix-prod".into()),
        ("SUPABASE_JWT_SECRET", valdrix_tests::JWT_SECRET.into()),
        ("ENCRYPTION_KEY", valdrix_tests::ENCRYPTION_KEY.into()),
        ("KDF_SALT", valdrix_tests::KDF_SALT.into()),
        ("CSRF_SECRET_KEY", valdrix_tests::CSRF_SECRET_KEY.into()),
        ("ADMIN_API_KEY", valdrix_tests::ADMIN_API_KEY.into()),
        ("LLM_PROVIDER", "groq".into()),
        ("GROQ_API_KEY", "gsk_test_9f8e7d6c5b4a39281706".into()),
        ("PAYSTACK_SECRET_KEY", "sk_live_0a1b2c3d4e5f6a7b8c9d".into()),
        ("PAYSTACK_PUBLIC_KEY", "pk_live_1a2b3c4d5e6f".into()),
        ("CORS_ORIGINS", r#"["https://app.valdrix.io"]"#.into()),
        ("SAAS_STRICT_INTEGRATIONS", "true".into()),
        ("SLACK_BOT_TOKEN", "xoxb-123-456-abcdefghijkl".into()),
        ("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "true".into()),
        (
            "FORECASTER_BREAK_GLASS_REASON",
            "INC-4211 prophet wheel".into(),
        ),
        ("FORECASTER_BREAK_GLASS_EXPIRES_AT", expires),
    ]);
    config::validate(&vars, Utc::now()).expect("a valid production contract")
}

fn metric_lines(expires_at: &str) -> Vec<Value> {
    metrics::captured()
        .into_iter()
        .filter(|l| l["Service"] == waiver::METRICS_SERVICE && l["expires_at"] == expires_at)
        .collect()
}

#[test]
fn a_waiver_reports_its_time_left_and_emits_it_as_a_metric() {
    metrics::capture();
    let config = production(100);
    let w =
        waiver::watch(&config, Utc::now()).expect("production without prophet runs on a waiver");
    assert!((99.8..=100.0).contains(&w.hours_left), "{w:?}");
    assert!(!w.expiring);
    assert_eq!(w.health()["status"], "active");

    let at = w.health()["expires_at"].as_str().unwrap().to_owned();
    let lines = metric_lines(&at);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["ForecasterWaiverHoursLeft"], w.hours_left);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "ForecasterWaiverHoursLeft"
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
        "Service"
    );
}

#[test]
fn the_warning_starts_48_hours_before_the_expiry() {
    let now = Utc::now();
    let config = production(49);
    let w = waiver::waiver(&config, now).unwrap();
    assert!(!w.expiring, "{w:?}");
    let later = waiver::waiver(&config, now + Duration::hours(2)).unwrap();
    assert!(later.expiring, "{later:?}");
    assert!(later.hours_left < waiver::WARN_HOURS);
    assert_eq!(later.health()["status"], "expiring");
    // Past the expiry: nothing left, never negative.
    let past = waiver::waiver(&config, now + Duration::hours(60)).unwrap();
    assert_eq!(past.hours_left, 0.0);
}

#[test]
fn no_waiver_is_needed_outside_staging_and_production() {
    let config = valdrix_tests::test_config(&[]);
    assert_eq!(waiver::waiver(&config, Utc::now()), None);
    assert_eq!(waiver::watch(&config, Utc::now()), None);
}
