//! Each function's template environment, resolved as a deployment resolves it
//! (staging and production, the runtime secret holding the checklist's values),
//! must pass the runtime contract: a template change that breaks it fails here
//! before any cold start does.

use serde_json::{Value, json};
use valdrix_shared::config::{self, VarSet};

use super::resolve::Values;
use super::template::Transformed;
use super::template::tests::transformed;

/// A complete secret for `environment`, as docs/production_env_checklist.md shows it.
fn secret(environment: &str) -> VarSet {
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(72)).to_rfc3339();
    VarSet::from_pairs([
        (
            "SUPABASE_JWT_SECRET",
            "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY".to_owned(),
        ),
        (
            "ENCRYPTION_KEY",
            "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc".into(),
        ),
        (
            "CSRF_SECRET_KEY",
            "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt".into(),
        ),
        (
            "ADMIN_API_KEY",
            "adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vBn".into(),
        ),
        (
            "KDF_SALT",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
        ),
        ("LLM_PROVIDER", "groq".into()),
        ("GROQ_API_KEY", "gsk_live_9f8e7d6c5b4a3f2e1d0c".into()),
        ("PAYSTACK_SECRET_KEY", "sk_live_4f3e2d1c0b9a8f7e6d5c".into()),
        ("PAYSTACK_PUBLIC_KEY", "pk_live_1a2b3c4d5e6f".into()),
        ("SAAS_STRICT_INTEGRATIONS", "true".into()),
        ("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "true".into()),
        (
            "FORECASTER_BREAK_GLASS_REASON",
            format!("INC-4211 {environment} waiver"),
        ),
        ("FORECASTER_BREAK_GLASS_EXPIRES_AT", expiry),
    ])
}

/// Every function whose environment, resolved for `environment`, breaks the contract.
fn problems(t: &Transformed, environment: &str) -> Vec<String> {
    let mut values = Values::default();
    for (k, v) in [
        ("AWS::Region", "us-east-1"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::StackName", "valdrix"),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("Environment", environment),
        (
            "RuntimeSecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:valdrix-runtime",
        ),
        ("CorsOrigins", "https://app.example.com"),
        ("Table", "valdrix-Table-1ABC"),
        ("ServerlessHttpApi", "abc123"),
        (
            "DeliveryDeadLetterQueue",
            "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        ),
        (
            "CostIngestQueue",
            "https://sqs.us-east-1.amazonaws.com/123456789012/cost-ingest",
        ),
        (
            "DailyRunQueue",
            "https://sqs.us-east-1.amazonaws.com/123456789012/daily-run",
        ),
        ("PackBucket", "valdrix-packbucket-1abc"),
        ("IngestBucket", "valdrix-ingest-123456789012"),
    ] {
        values.set(k, v);
    }
    values.set_attr(
        "AuditSigningKey",
        "Arn",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    );
    // Every other parameter at its default; every function by a name (the
    // hook names the functions it checks).
    for (name, p) in t.template["Parameters"].as_object().into_iter().flatten() {
        if !values.refs.contains_key(name)
            && let Some(default) = p["Default"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| p["Default"].as_i64().map(|n| n.to_string()))
        {
            values.set(name, default);
        }
    }
    for (id, _) in t.of_type("AWS::Lambda::Function") {
        values.set(id, format!("valdrix-{id}"));
        values.set_attr(
            id,
            "Arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:valdrix-{id}"),
        );
    }
    let mut out = Vec::new();
    for (id, r) in t.of_type("AWS::Lambda::Function") {
        let vars: Result<Vec<(String, String)>, String> =
            r["Properties"]["Environment"]["Variables"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| Ok((k.clone(), values.resolve_string(v)?)))
                .collect();
        let mut vars = match vars {
            Ok(v) => VarSet::from_pairs(v),
            Err(e) => {
                out.push(format!("{id}: {e}"));
                continue;
            }
        };
        // The secret fills what env leaves unset, as at a cold start.
        vars.fill_from(secret(environment));
        if let Err(violations) = config::validate(&vars, chrono::Utc::now()) {
            let names: Vec<String> = violations.iter().map(ToString::to_string).collect();
            out.push(format!("{id} ({environment}): {}", names.join("; ")));
        }
    }
    out
}

fn set_env(t: &mut Transformed, function: &str, name: &str, value: Value) {
    t.template["Resources"][function]["Properties"]["Environment"]["Variables"][name] = value;
}

#[test]
fn every_functions_template_environment_passes_the_contract() {
    let t = transformed();
    for environment in ["staging", "production"] {
        assert_eq!(problems(&t, environment), Vec::<String>::new());
    }
}

#[test]
fn a_function_whose_environment_breaks_the_contract_is_named() {
    let mut t = transformed();
    set_env(
        &mut t,
        "EvidenceFunction",
        "JIRA_BASE_URL",
        json!("https://jira.example.com"),
    );
    set_env(
        &mut t,
        "HealthFunction",
        "DATABASE_URL",
        json!("sqlite://health.db"),
    );
    let found = problems(&t, "production");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("EvidenceFunction (production): JIRA_BASE_URL:"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("HealthFunction (production): DATABASE_URL:"),
        "{found:#?}"
    );
}
