//! The daily passive run against local fake receivers: checks recorded by
//! `system`, nothing visible sent, one broken tenant stops no other.

mod support;

use std::time::Duration;

use evidence_daily::Daily;
use serde_json::json;
use support::{MemoryQueue, run_daily};
use valdrix_shared::audit::Actor;
use valdrix_shared::audit::checkpoint;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::store::Condition;
use valdrix_tests::{FakeWorld, sqlite_store};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn passive_run_checks_every_tenant_without_sending_anything_visible() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "team": "acme"})))
        .mount(&w.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"accountId": "1"})))
        .mount(&w.server)
        .await;
    // A second tenant whose settings record is corrupt.
    let broken = valdrix_tests::unique("broken");
    let ctx = valdrix_shared::tenancy::ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    valdrix_shared::tenancy::create_tenant(
        &w.state.audit,
        Some(broken.clone()),
        "Broken",
        valdrix_shared::tenancy::Tier::Pro,
        &ctx,
    )
    .await
    .unwrap();
    let bad = json!({"pk": format!("TENANT#{broken}"), "sk": "SETTINGS#notifications", "slack_enabled": "not-a-bool", "version": 1});
    w.state
        .store
        .put(bad.as_object().cloned().unwrap(), Condition::None)
        .await
        .unwrap();

    valdrix_shared::metrics::capture();
    let (state, queue) = (w.state.notifying(), MemoryQueue::default());
    let daily = Daily {
        state: &state,
        signer: None,
        queue: &queue,
    };
    // One unit per tenant; the broken one alone goes back to SQS.
    let back = run_daily(&daily, &queue).await;
    assert_eq!(back, [format!("m-{broken}")]);

    let (events, _) = w
        .state
        .audit
        .page(&w.tenant, 100, None, true)
        .await
        .unwrap();
    let evidence: Vec<_> = events
        .iter()
        .filter(|e| e.event_type.starts_with("evidence."))
        .collect();
    assert_eq!(evidence.len(), 4);
    assert!(
        evidence
            .iter()
            .all(|e| e.actor == Actor::System && e.details["mode"] == "passive")
    );
    for p in [
        "/api/chat.postMessage",
        "/rest/api/3/issue",
        valdrix_tests::GITHUB_DISPATCH_PATH,
        valdrix_tests::GITLAB_TRIGGER_PATH,
        valdrix_tests::WEBHOOK_PATH,
    ] {
        assert_eq!(w.received(p).await, 0, "{p} got a visible message");
    }
    let text = serde_json::to_string(&events).unwrap();
    for secret in w.secrets() {
        assert!(!text.contains(&secret));
    }

    // The run's metric line: checks run and failed, for this tenant's run.
    let lines: Vec<_> = valdrix_shared::metrics::captured()
        .into_iter()
        .filter(|l| l["Service"] == "evidence" && l["tenant_id"] == w.tenant.as_str())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["mode"], "passive");
    assert_eq!(lines[0]["EvidenceChecksRun"], 3.0);
    assert_eq!(lines[0]["EvidenceChecksFailed"], 0.0);
}

#[tokio::test]
async fn the_hooks_event_runs_one_tenant_through_the_same_path() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&w.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"accountId": "1"})))
        .mount(&w.server)
        .await;
    valdrix_shared::metrics::capture();
    let (state, queue) = (w.state.notifying(), MemoryQueue::default());
    let daily = Daily {
        state: &state,
        signer: None,
        queue: &queue,
    };
    let probe = json!({"source": evidence_daily::HOOK_SOURCE, "detail": {"tenant_id": w.tenant}});
    let report = evidence_daily::handle(&daily, &probe, Deadline::unbounded())
        .await
        .unwrap();
    assert_eq!(report["tenants"], 1, "{report}");
    assert_eq!(report["tenants_failed"], json!([]), "{report}");
    assert_eq!(report["checks_failed"], 1, "Slack answers 500: {report}");

    let lines: Vec<_> = valdrix_shared::metrics::captured()
        .into_iter()
        .filter(|l| l["Service"] == "evidence" && l["tenant_id"] == w.tenant.as_str())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["EvidenceChecksFailed"], 1.0);

    // A tenant that does not exist fails alone, as in the daily run.
    let missing =
        json!({"source": evidence_daily::HOOK_SOURCE, "detail": {"tenant_id": "no-such-tenant"}});
    let report = evidence_daily::handle(&daily, &missing, Deadline::unbounded())
        .await
        .unwrap();
    assert_eq!(
        report["tenants_failed"],
        json!(["no-such-tenant"]),
        "{report}"
    );
}

#[tokio::test]
async fn the_daily_run_signs_every_tenant_whose_chain_moved() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    let signer = valdrix_tests::local_signer();
    let other = valdrix_tests::unique("quiet");
    let ctx = valdrix_shared::tenancy::ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    valdrix_shared::tenancy::create_tenant(
        &w.state.audit,
        Some(other.clone()),
        "Quiet",
        valdrix_shared::tenancy::Tier::Pro,
        &ctx,
    )
    .await
    .unwrap();
    let (state, queue) = (w.state.notifying(), MemoryQueue::default());
    let daily = Daily {
        state: &state,
        signer: Some(signer.as_ref()),
        queue: &queue,
    };
    assert_eq!(run_daily(&daily, &queue).await, Vec::<String>::new());
    let store = w.state.store.as_ref();
    for tenant in [&w.tenant, &other] {
        let head = w.state.audit.head(tenant).await.unwrap().unwrap();
        let signed = checkpoint::latest(store, tenant).await.unwrap().unwrap();
        assert_eq!(
            (signed.statement.seq, signed.statement.head_hash),
            (head.seq, head.hash),
            "{tenant}: no event waits past the daily run"
        );
    }
    // The hook's one-tenant run signs that tenant only; nothing new for the other.
    let probe = json!({"source": evidence_daily::HOOK_SOURCE, "detail": {"tenant_id": other}});
    let report = evidence_daily::handle(&daily, &probe, Deadline::unbounded())
        .await
        .unwrap();
    assert_eq!(
        report["checkpoints"],
        json!({"signed": 1, "failed": []}),
        "{report}"
    );
}
