//! Capturing acceptance evidence against local fake receivers.

use std::time::Duration;

use futures::future::join_all;
use http::Method;
use serde_json::{Value, json};
use valdrix_shared::http::layers;
use valdrix_tests::{FakeWorld, call, dynamo_store, sqlite_store};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const CAPTURE: &str = "/api/v1/settings/notifications/acceptance-evidence/capture";

async fn capture(w: &FakeWorld, body: Option<Value>, key: Option<&str>) -> (u16, Value) {
    let app = layers(evidence::router(w.state.clone()), &w.state.config);
    let mut req = http::Request::builder()
        .method(Method::POST)
        .uri(CAPTURE)
        .header("authorization", format!("Bearer {}", w.token("owner")));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            lambda_http::Body::Text(b.to_string())
        }
        None => lambda_http::Body::Empty,
    };
    let (status, _, json) = call(&app, req.body(body).unwrap()).await;
    (status, json)
}

#[tokio::test]
async fn capture_records_each_check_and_the_suite() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    w.all_succeed().await;
    let (status, run) = capture(&w, None, None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        (
            run["overall_status"].clone(),
            run["passed"].clone(),
            run["failed"].clone()
        ),
        (json!("success"), json!(3), json!(0))
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| r["channel"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["slack", "jira", "workflow"]
    );
    assert!(
        results
            .iter()
            .all(|r| r["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    let (events, _) = w
        .state
        .audit
        .page(&w.tenant, 100, None, true)
        .await
        .unwrap();
    assert_eq!(events[0].event_type, "evidence.suite");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "evidence.check")
            .count(),
        3
    );
    let text = serde_json::to_string(&events).unwrap() + &run.to_string();
    for secret in w.secrets() {
        assert!(!text.contains(&secret), "a secret reached the evidence");
    }
}

#[tokio::test]
async fn unconfigured_channels_are_skipped_and_all_false_is_422() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    w.all_succeed().await;
    let (status, _) = capture(
        &w,
        Some(json!({"include_slack": false, "include_jira": false, "include_workflow": false})),
        None,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = capture(&w, Some(json!({"include_email": true})), None).await;
    assert_eq!(status, 422);
    // Regression: a wrongly typed option is named, and its value never echoed.
    let (status, body) =
        capture(&w, Some(json!({"include_slack": "sk-pasted-secret"})), None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "include_slack", "{body}");
    assert!(!body.to_string().contains("sk-pasted-secret"), "{body}");
    // Jira off in the settings: recorded as skipped, not failed.
    let ctx = valdrix_shared::tenancy::ChangeContext {
        actor: valdrix_shared::audit::Actor::System,
        request_id: None,
    };
    let (current, v) = valdrix_shared::settings::load(w.state.store.as_ref(), &w.tenant)
        .await
        .unwrap();
    let update = serde_json::from_value(json!({"jira_enabled": false})).unwrap();
    let applied = valdrix_shared::settings::apply(
        &current,
        update,
        valdrix_shared::tenancy::Tier::Pro,
        &w.tenant,
        &w.state.keys,
        valdrix_shared::outbound::Policy::from_config(&w.state.config),
    )
    .unwrap();
    valdrix_shared::settings::save(&w.state.audit, &w.tenant, &applied, v, &ctx)
        .await
        .unwrap();
    let (_, run) = capture(&w, Some(json!({"include_workflow": false})), None).await;
    assert_eq!(run["results"][1]["status"], "skipped");
    assert_eq!(
        (
            run["passed"].clone(),
            run["failed"].clone(),
            run["overall_status"].clone()
        ),
        (json!(1), json!(0), json!("success"))
    );
}

#[tokio::test]
async fn a_retry_with_the_same_key_sends_nothing_again() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    w.all_succeed().await;
    let (s1, first) = capture(
        &w,
        Some(json!({"include_workflow": false})),
        Some("key-123"),
    )
    .await;
    let (s2, second) = capture(
        &w,
        Some(json!({"include_workflow": false})),
        Some("key-123"),
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, second);
    assert_eq!(w.received("/api/chat.postMessage").await, 1);
    assert_eq!(w.received("/rest/api/3/issue").await, 1);
    let (status, _) = capture(&w, Some(json!({"include_jira": false})), Some("key-123")).await;
    assert_eq!(status, 422, "same key, other body");
}

#[tokio::test]
async fn fail_fast_stops_after_the_first_failure() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
        )
        .mount(&w.server)
        .await;
    w.all_succeed().await;
    let (status, run) = capture(&w, Some(json!({"fail_fast": true})), None).await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "skipped", "skipped"]);
    assert_eq!(run["overall_status"], "failed");
    assert_eq!(
        w.received("/rest/api/3/issue").await,
        0,
        "nothing after the failure was sent"
    );
}

#[tokio::test]
async fn twenty_concurrent_captures_leave_one_linear_chain_on_dynamodb_local() {
    let w = FakeWorld::new(dynamo_store().await, Duration::from_secs(5)).await;
    w.all_succeed().await;
    let runs = join_all((0..20).map(|_| {
        capture(
            &w,
            Some(json!({"include_workflow": false, "include_jira": false})),
            None,
        )
    }))
    .await;
    assert!(runs.iter().all(|(s, _)| *s == 200), "{runs:?}");
    let verification =
        serde_json::to_value(w.state.audit.verify(&w.tenant).await.unwrap()).unwrap();
    assert_eq!(verification["ok"], true, "{verification}");
    let (events, _) = w
        .state
        .audit
        .page(&w.tenant, 1000, None, false)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "evidence.suite")
            .count(),
        20
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gap, no fork"
    );
}

/// Checks that would outlast the request's deadline are abandoned before
/// anything is recorded: a 503 with `Retry-After`, the idempotency key
/// released so that a retry (with time enough) runs.
#[tokio::test]
async fn checks_past_the_deadline_answer_503_and_record_nothing() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(8)).await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(4))
                .set_body_json(json!({"ok": true, "channel": "C1", "ts": "1.2"})),
        )
        .mount(&w.server)
        .await;
    w.all_succeed().await;
    let before = w.state.audit.head(&w.tenant).await.unwrap().unwrap().seq;
    let app = layers(evidence::router(w.state.clone()), &w.state.config);
    // Lambda's deadline 4.5 s away: after the 3 s kept to record, 1.5 s for checks.
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 4_500;
    let mut req = http::Request::builder()
        .method(Method::POST)
        .uri(CAPTURE)
        .header("authorization", format!("Bearer {}", w.token("owner")))
        .header("idempotency-key", "late-1")
        .body(lambda_http::Body::Empty)
        .unwrap();
    let mut ctx = lambda_http::Context::default();
    ctx.deadline = deadline;
    req.extensions_mut().insert(ctx);
    let (status, headers, body) = call(&app, req).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(headers.contains_key("retry-after"));
    let after = w.state.audit.head(&w.tenant).await.unwrap().unwrap().seq;
    assert_eq!(after, before, "nothing recorded");
    let (status, run) = capture(&w, None, Some("late-1")).await;
    assert_eq!(status, 200, "the key was released: {run}");
    assert_eq!(run["overall_status"], "success");
}
