//! `valdrix migrate`, `rotate-secrets` and `verify-chain` end to end.

use std::process::{Command, Output};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use valdrix_shared::audit::Actor;
use valdrix_shared::config::StoreUrl;
use valdrix_shared::settings::{self, NotificationSettings, SecretField, SettingsUpdate};
use valdrix_shared::state::AppState;
use valdrix_shared::store::{self, Condition};
use valdrix_shared::tenancy::{self, ChangeContext, Tier};
use valdrix_tests::{
    CSRF_SECRET_KEY, ENCRYPTION_KEY, JWT_SECRET, KDF_SALT, dynamodb_endpoint, test_config, unique,
};

const NEW_KEY: &str = "rotated-key-5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c";

fn valdrix(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args(args)
        .env_clear()
        .env("ENVIRONMENT", "local")
        .env("SUPABASE_JWT_SECRET", JWT_SECRET)
        .env("CSRF_SECRET_KEY", CSRF_SECRET_KEY)
        .env("KDF_SALT", KDF_SALT)
        .env("ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("run valdrix")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn migrate_creates_the_table_once_and_applies_each_migration_once() {
    let table = unique("migrate");
    let url = format!(
        "dynamodb://{table}?endpoint={}&region=us-east-1",
        dynamodb_endpoint()
    );
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let first = valdrix(&["migrate"], &env);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = stdout(&first);
    assert!(out.contains(&format!("table {table}: created")), "{out}");
    assert!(
        out.contains("migration 0001-smoke-tenant: applied"),
        "{out}"
    );
    assert!(
        out.ends_with("migrate: 1 applied, 0 already applied\n"),
        "{out}"
    );

    let store = store::open(&StoreUrl::DynamoDb {
        table: table.clone(),
        endpoint: Some(dynamodb_endpoint()),
        region: Some("us-east-1".into()),
    })
    .await
    .unwrap();
    let state = AppState::new(Arc::new(test_config(&[])), store.clone());
    let head = state.audit.head(tenancy::SMOKE_TENANT_ID).await.unwrap();
    assert!(
        tenancy::get_tenant(store.as_ref(), tenancy::SMOKE_TENANT_ID)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        tenancy::get_membership(store.as_ref(), tenancy::SMOKE_USER_ID)
            .await
            .unwrap()
            .is_some()
    );

    let second = valdrix(&["migrate"], &env);
    assert_eq!(second.status.code(), Some(0));
    let out = stdout(&second);
    assert!(out.contains(&format!("table {table}: exists")), "{out}");
    assert!(
        out.contains("migration 0001-smoke-tenant: already applied"),
        "{out}"
    );
    assert_eq!(
        state.audit.head(tenancy::SMOKE_TENANT_ID).await.unwrap(),
        head,
        "a second run changed data"
    );
}

#[test]
fn migrate_refuses_a_bad_store_url_as_a_usage_error() {
    let out = valdrix(&["migrate", "--database-url", "postgres://x"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL: must start with"));
}

/// A tenant whose Jira token was sealed under the original key.
async fn tenant_with_sealed_secret(db: &str) -> String {
    let store = store::open(&StoreUrl::Sqlite { path: db.into() })
        .await
        .unwrap();
    let state = AppState::new(Arc::new(test_config(&[])), store);
    let tenant = unique("t");
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    tenancy::create_tenant(&state.audit, Some(tenant.clone()), "T", Tier::Pro, &ctx)
        .await
        .unwrap();
    let update: SettingsUpdate =
        serde_json::from_value(json!({"jira_api_token": "jira-token-to-rotate-123"})).unwrap();
    let applied = settings::apply(
        &NotificationSettings::default(),
        update,
        Tier::Pro,
        &tenant,
        &state.keys,
        Default::default(),
    )
    .unwrap();
    settings::save(&state.audit, &tenant, &applied, 0, &ctx)
        .await
        .unwrap();
    tenant
}

#[tokio::test]
async fn rotate_secrets_reseals_under_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.sqlite").display().to_string();
    let tenant = tenant_with_sealed_secret(&db).await;
    let url = format!("sqlite://{db}");
    let fallbacks = serde_json::to_string(&[ENCRYPTION_KEY]).unwrap();

    // Without the old key as a fallback nothing can be opened: reported, exit 1.
    let out = valdrix(
        &["rotate-secrets"],
        &[("DATABASE_URL", &url), ("ENCRYPTION_KEY", NEW_KEY)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("failed=1"), "{}", stdout(&out));

    let out = valdrix(
        &["rotate-secrets"],
        &[
            ("DATABASE_URL", &url),
            ("ENCRYPTION_KEY", NEW_KEY),
            ("ENCRYPTION_KEY_FALLBACKS", &fallbacks),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("resealed=1"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("jira-token-to-rotate-123"));

    // The new key alone now opens it; a second run has nothing left to do.
    let store = store::open(&StoreUrl::Sqlite { path: db.clone() })
        .await
        .unwrap();
    let new_only = AppState::new(Arc::new(test_config(&[("ENCRYPTION_KEY", NEW_KEY)])), store);
    let (saved, version) = settings::load(new_only.store.as_ref(), &tenant)
        .await
        .unwrap();
    let token: SecretString = saved
        .secret(&new_only.keys, &tenant, SecretField::JiraApiToken)
        .unwrap()
        .unwrap();
    assert_eq!(token.expose_secret(), "jira-token-to-rotate-123");
    assert_eq!(version, 2);
    let out = valdrix(
        &["rotate-secrets"],
        &[
            ("DATABASE_URL", &url),
            ("ENCRYPTION_KEY", NEW_KEY),
            ("ENCRYPTION_KEY_FALLBACKS", &fallbacks),
        ],
    );
    assert!(
        stdout(&out).contains("resealed=0") && stdout(&out).contains("already_current=1"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn verify_chain_reports_intact_and_broken_chains() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.sqlite").display().to_string();
    let tenant = tenant_with_sealed_secret(&db).await;
    let url = format!("sqlite://{db}");
    let out = valdrix(
        &["verify-chain", "--tenant", &tenant, "--format", "json"],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            report["ok"].clone(),
            report["complete"].clone(),
            report["events_checked"].clone()
        ),
        (json!(true), json!(true), json!(2))
    );
    // The old name still answers, in text.
    let out = valdrix(
        &["verify-audit", "--tenant", &tenant],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("chain_intact "),
        "{}",
        stdout(&out)
    );

    let store = store::open(&StoreUrl::Sqlite { path: db }).await.unwrap();
    let pk = format!("TENANT#{tenant}");
    let mut item = store
        .get(&pk, "AUDIT#00000000000000000001")
        .await
        .unwrap()
        .unwrap();
    item["event"]["success"] = json!(false);
    store.put(item, Condition::None).await.unwrap();
    let out = valdrix(
        &["verify-chain", "--tenant", &tenant, "--format", "json"],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["ok"].clone(), report["first_bad_seq"].clone()),
        (json!(false), json!(1))
    );
}

/// On DynamoDB (the runtime contract's `DATABASE_URL`), across several
/// ranges: intact, then the first bad seq named after a change in the middle.
#[tokio::test]
async fn verify_chain_walks_a_dynamodb_chain_range_by_range() {
    use valdrix_shared::audit::{NewEvent, RANGE_EVENTS};
    let table = unique("verify");
    let store = store::open(&StoreUrl::DynamoDb {
        table: table.clone(),
        endpoint: Some(dynamodb_endpoint()),
        region: Some("us-east-1".into()),
    })
    .await
    .unwrap();
    store.ensure_table().await.unwrap();
    let state = AppState::new(Arc::new(test_config(&[])), store.clone());
    let tenant = unique("t");
    let events = RANGE_EVENTS + 600;
    let mut seq = 0;
    while seq < events {
        let n = (events - seq).min(90);
        let batch = (seq..seq + n)
            .map(|i| {
                let e = NewEvent {
                    tenant_id: tenant.clone(),
                    event_type: "test.event".into(),
                    actor: Actor::System,
                    request_id: None,
                    resource: None,
                    success: true,
                    details: json!({"n": i}),
                };
                (e, None)
            })
            .collect();
        state.audit.append_all(batch, Vec::new()).await.unwrap();
        seq += n;
    }
    let url = format!(
        "dynamodb://{table}?endpoint={}&region=us-east-1",
        dynamodb_endpoint()
    );
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let args = ["verify-chain", "--tenant", &tenant, "--format", "json"];
    let out = valdrix(&args, &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            report["complete"].clone(),
            report["events_checked"].clone(),
            report["ranges"].clone()
        ),
        (json!(true), json!(events), json!(2))
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        progress
            .lines()
            .filter(|l| l.starts_with("verified "))
            .count(),
        2,
        "{progress}"
    );

    let bad = RANGE_EVENTS + 300;
    let pk = format!("TENANT#{tenant}");
    let mut item = store
        .get(&pk, &format!("AUDIT#{bad:020}"))
        .await
        .unwrap()
        .unwrap();
    item["event"]["success"] = json!(false);
    store.put(item, Condition::None).await.unwrap();
    let out = valdrix(&args, &env);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["ok"].clone(), report["first_bad_seq"].clone()),
        (json!(false), json!(bad))
    );
}
