//! The API's door, over every function's routes as `valdrix serve` serves
//! them: input the schema does not allow (docs/openapi.yaml) is refused with a
//! 4xx problem and changes nothing. One test per hole an attacker found
//! (issue 14); schemathesis' negative mode (infra/tests/schemathesis.rs)
//! covers the rest of the schema.

mod support;

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use support::{Answer, Req, app, send};
use valdrix_tests::{ADMIN_API_KEY, FakeWorld, sqlite_store, unique};

const SETTINGS: &str = "/api/v1/settings/notifications";

async fn world() -> (FakeWorld, axum::Router) {
    let world = FakeWorld::new(sqlite_store().await, Duration::from_secs(5)).await;
    let router = app(world.state.clone());
    (world, router)
}

fn refused(answer: &Answer, what: &str) -> Value {
    assert!(
        (400..500).contains(&answer.status),
        "{what}: expected a 4xx, got {} {:.300}",
        answer.status,
        answer.text()
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    answer.json()
}

fn field_of(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or_default()
}

async fn tenant(app: &axum::Router, id: &str) -> Value {
    send(
        app,
        &Req::get(format!("/api/v1/admin/tenants/{id}")).admin(ADMIN_API_KEY),
    )
    .await
    .json()
}

async fn settings(world: &FakeWorld, app: &axum::Router) -> Value {
    send(app, &Req::get(SETTINGS).bearer(&world.token("owner")))
        .await
        .json()
}

/// 1. A JSON array where an object is documented changes nothing.
#[tokio::test]
async fn arrays_never_stand_in_for_objects() {
    let (world, app) = world().await;
    let before = tenant(&app, &world.tenant).await;
    let cases = [
        (
            Method::PUT,
            format!("/api/v1/admin/tenants/{}/tier", world.tenant),
            json!(["enterprise"]),
        ),
        (
            Method::POST,
            "/api/v1/admin/tenants".to_owned(),
            json!(["t1", "T1 Co", "pro"]),
        ),
        (
            Method::PUT,
            format!("/api/v1/admin/tenants/{}/members/intruder", world.tenant),
            json!(["owner", "a@b.example"]),
        ),
    ];
    for (method, path, body) in cases {
        let answer = send(
            &app,
            &Req::new(method, &path).admin(ADMIN_API_KEY).json(&body),
        )
        .await;
        let problem = refused(&answer, &path);
        assert_eq!(answer.status, 422, "{path}");
        assert_eq!(field_of(&problem), "body", "{path}: {problem}");
    }
    assert_eq!(tenant(&app, &world.tenant).await, before, "tier unchanged");
    assert_eq!(tenant(&app, "t1").await["status"], 404, "no tenant t1");
    let me = send(
        &app,
        &Req::get("/api/v1/me").bearer(&valdrix_tests::user_token("intruder", "a@b.example")),
    )
    .await;
    assert_eq!(me.status, 403, "intruder is no member: {}", me.text());

    for body in [json!([]), json!([true])] {
        let answer = send(
            &app,
            &Req::new(
                Method::POST,
                format!("{SETTINGS}/acceptance-evidence/capture"),
            )
            .bearer(&world.token("owner"))
            .json(&body),
        )
        .await;
        assert_eq!(answer.status, 422, "capture {body}: {}", answer.text());
    }
    let runs = send(
        &app,
        &Req::get(format!("{SETTINGS}/acceptance-evidence")).bearer(&world.token("owner")),
    )
    .await
    .json();
    assert_eq!(runs["count"], 0, "no capture ran: {runs}");

    // Where an array fails on its length, the 422 speaks JSON, not Rust.
    let answer = send(
        &app,
        &Req::new(Method::PUT, SETTINGS)
            .bearer(&world.token("owner"))
            .json(&json!([true, "#x"])),
    )
    .await;
    let text = refused(&answer, "settings array").to_string();
    assert!(
        !text.contains("SettingsUpdate") && !text.contains("elements"),
        "{text}"
    );
}

/// 2.-3. URL fields: control characters anywhere, and hosts DNS can never
/// resolve (a label over 63 characters, a name over 253), are refused.
#[tokio::test]
async fn urls_with_control_characters_or_impossible_hosts_are_refused() {
    let (world, app) = world().await;
    let before = settings(&world, &app).await;
    let label64 = "a".repeat(64);
    let long_host = format!("{}.example.com", vec!["b".repeat(60); 5].join("."));
    let cases = [
        (
            "workflow_webhook_url",
            "https://hooks.example.com/x\r\nX-Injected: 1".to_owned(),
        ),
        (
            "workflow_webhook_url",
            "https://hooks.example.com/\tx".to_owned(),
        ),
        (
            "workflow_webhook_url",
            "https://hooks.example.com/a b".to_owned(),
        ),
        ("workflow_webhook_url", format!("https://{long_host}/x")),
        (
            "workflow_webhook_url",
            format!("https://{label64}.example.com/x"),
        ),
        ("jira_base_url", format!("https://{label64}.atlassian.net")),
        (
            "workflow_gitlab_base_url",
            format!("https://{label64}.gitlab.example"),
        ),
        (
            "jira_base_url",
            "https://user:pw@acme.atlassian.net".to_owned(),
        ),
    ];
    for (field, url) in cases {
        let answer = send(
            &app,
            &Req::new(Method::PUT, SETTINGS)
                .bearer(&world.token("owner"))
                .json(&json!({ field: url })),
        )
        .await;
        let problem = refused(&answer, &format!("{field} {url:?}"));
        assert_eq!(field_of(&problem), field, "{url:?}: {problem}");
        assert!(
            !answer.text().contains("X-Injected"),
            "the value is not echoed"
        );
    }
    assert_eq!(settings(&world, &app).await, before, "nothing stored");
}

/// 4. NUL, ESC and other control characters in free text are refused.
#[tokio::test]
async fn control_characters_in_free_text_are_refused() {
    let (world, app) = world().await;
    let answer = send(
        &app,
        &Req::new(Method::POST, "/api/v1/admin/tenants")
            .admin(ADMIN_API_KEY)
            .json(&json!({"id": unique("nul"), "name": "a\u{0}b", "tier": "pro"})),
    )
    .await;
    assert_eq!(field_of(&refused(&answer, "tenant name")), "name");

    let answer = send(
        &app,
        &Req::new(Method::PUT, SETTINGS)
            .bearer(&world.token("owner"))
            .json(&json!({"jira_issue_type": "Task\u{1b}[2J"})),
    )
    .await;
    assert_eq!(field_of(&refused(&answer, "issue type")), "jira_issue_type");

    for (field, value) in [
        ("summary", "\u{1b}[2Jwipe"),
        ("action", "\u{1b}[2Jwipe"),
        ("resource_id", "i-1\u{0}"),
    ] {
        let mut event = support::block_event(&unique("door"), &world.tenant);
        event[field] = json!(value);
        let answer = send(
            &app,
            &Req::new(Method::POST, "/api/v1/policy/events")
                .admin(ADMIN_API_KEY)
                .json(&event),
        )
        .await;
        assert_eq!(field_of(&refused(&answer, field)), field);
    }
    // Multi-line text keeps its line feeds and tabs.
    let mut event = support::block_event(&unique("door"), &world.tenant);
    event["summary"] = json!("line one\n\tline two");
    let answer = send(
        &app,
        &Req::new(Method::POST, "/api/v1/policy/events")
            .admin(ADMIN_API_KEY)
            .json(&event),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.text());
}

/// 5. Operator fields are bounded too.
#[tokio::test]
async fn remediation_fields_are_bounded() {
    let (world, app) = world().await;
    let path = format!("/api/v1/admin/tenants/{}/remediations", world.tenant);
    let big = "1".repeat(100 * 1024);
    for field in ["account_id", "region"] {
        let mut body = json!({
            "action": "rightsize", "resource_id": "i-1", "provider": "aws",
            "status": "proposed", "estimated_monthly_savings": "1.00",
        });
        body[field] = json!(big);
        let answer = send(
            &app,
            &Req::new(Method::POST, &path)
                .admin(ADMIN_API_KEY)
                .json(&body),
        )
        .await;
        assert_eq!(field_of(&refused(&answer, field)), field);
        body[field] = json!("eu-west-1\u{0}");
        let answer = send(
            &app,
            &Req::new(Method::POST, &path)
                .admin(ADMIN_API_KEY)
                .json(&body),
        )
        .await;
        assert_eq!(field_of(&refused(&answer, field)), field);
    }
}

/// 6. Identifiers follow the vendor's own rules: settings that could never
/// work are refused at the door, not by the sender later.
#[tokio::test]
async fn vendor_identifiers_follow_vendor_rules() {
    let (world, app) = world().await;
    let before = settings(&world, &app).await;
    for (field, value) in [
        ("workflow_github_owner", ".."),
        ("workflow_github_repo", ".."),
        ("workflow_github_repo", "."),
        ("workflow_github_owner", "-acme"),
        ("workflow_github_owner", "a".repeat(40).as_str()),
        ("workflow_gitlab_project_id", "group/../x"),
        ("jira_project_key", "ops"),
        ("slack_channel_override", "#Has Space"),
    ] {
        let answer = send(
            &app,
            &Req::new(Method::PUT, SETTINGS)
                .bearer(&world.token("owner"))
                .json(&json!({ field: value })),
        )
        .await;
        assert_eq!(field_of(&refused(&answer, value)), field, "{value}");
    }
    assert_eq!(settings(&world, &app).await, before, "nothing stored");
}

/// 7. A token issued in the future is refused.
#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let (world, app) = world().await;
    let claims = |iat: i64| {
        json!({
            "sub": format!("{}-owner", world.tenant), "email": "u@acme.example",
            "aud": "authenticated", "exp": chrono::Utc::now().timestamp() + 3600 * 24 * 3650 + 60,
            "iat": iat,
        })
    };
    let now = chrono::Utc::now().timestamp();
    let future = valdrix_tests::sign_claims(&claims(now + 10 * 365 * 24 * 3600));
    let answer = send(&app, &Req::get("/api/v1/me").bearer(&future)).await;
    assert_eq!(answer.status, 401, "{}", answer.text());
    // Within the leeway, clock skew is forgiven.
    let skewed = valdrix_tests::sign_claims(&claims(now + 10));
    let answer = send(&app, &Req::get("/api/v1/me").bearer(&skewed)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// 11. A PUT without a precondition is retried on a concurrent write, never
/// answered 409; a stale `If-Match` is 412, a stale body `version` 409.
#[tokio::test]
async fn unconditional_puts_win_races_and_stale_preconditions_are_412() {
    let (world, app) = world().await;
    let puts = (0..16).map(|i| {
        let app = app.clone();
        let token = world.token("owner");
        async move {
            let channel = format!("#race-{i}");
            send(
                &app,
                &Req::new(Method::PUT, SETTINGS)
                    .bearer(&token)
                    .json(&json!({ "slack_channel_override": channel })),
            )
            .await
        }
    });
    let answers = futures::future::join_all(puts).await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let current = settings(&world, &app).await;
    let version = current["version"].as_u64().unwrap();
    assert!(version >= 16, "every PUT saved: version {version}");

    let stale = Req::new(Method::PUT, SETTINGS)
        .bearer(&world.token("owner"))
        .header("if-match", format!("\"{}\"", version - 1))
        .json(&json!({"slack_channel_override": "#stale"}));
    let answer = send(&app, &stale).await;
    assert_eq!(answer.status, 412, "{}", answer.text());
    let answer = send(
        &app,
        &Req::new(Method::PUT, SETTINGS)
            .bearer(&world.token("owner"))
            .json(&json!({"slack_channel_override": "#stale", "version": version - 1})),
    )
    .await;
    assert_eq!(answer.status, 409, "{}", answer.text());
    assert_eq!(settings(&world, &app).await, current, "nothing stored");
}
