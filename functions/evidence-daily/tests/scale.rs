//! The daily run at scale: 2,000 tenants, one of them with a Jira that never
//! answers. Each tenant is its own unit, so every other tenant's evidence is
//! recorded while the slow one is still waiting (with one pass over every
//! tenant in sequence, as before, this test never finishes). And a batch
//! that meets its deadline hands its tenants back instead of losing them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use evidence_daily::Daily;
use futures::StreamExt;
use serde_json::json;
use support::{MemoryQueue, handed_back, sqs_event};
use valdrix_shared::audit::Actor;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::tenancy::{self, ChangeContext, Tier};
use valdrix_tests::{FakeWorld, sqlite_store};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const TENANTS: usize = 2_000;

/// A Jira whose `myself` never answers until the test lets it go, then
/// answers 504 (a check that failed, as a timeout would). The semaphore's
/// permits count the calls it holds.
async fn stuck_jira() -> (
    String,
    Arc<tokio::sync::Semaphore>,
    Arc<tokio::sync::Notify>,
) {
    let calls = Arc::new(tokio::sync::Semaphore::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let (seen, go) = (calls.clone(), release.clone());
    let app = axum::Router::new().route(
        "/rest/api/3/myself",
        get(move || {
            let (seen, go) = (seen.clone(), go.clone());
            async move {
                let released = go.notified();
                tokio::pin!(released);
                released.as_mut().enable();
                seen.add_permits(1);
                released.await;
                axum::http::StatusCode::GATEWAY_TIMEOUT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls, release)
}

async fn has_evidence(w: &FakeWorld, tenant: &str) -> bool {
    let (events, _) = w.state.audit.page(tenant, 50, None, true).await.unwrap();
    events.iter().any(|e| e.event_type.starts_with("evidence."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_that_never_answers_delays_no_other() {
    // The outbound timeout is far longer than the test may take: only the
    // design, not a timeout, can let the others finish first.
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(600)).await;
    for (m, p) in [("POST", "/api/auth.test"), ("GET", "/rest/api/3/myself")] {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": true, "accountId": "1"})),
            )
            .mount(&w.server)
            .await;
    }
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    let (jira, jira_calls, jira_release) = stuck_jira().await;
    let slow = valdrix_tests::unique("slow");
    tenancy::create_tenant(&w.state.audit, Some(slow.clone()), "Slow", Tier::Pro, &ctx)
        .await
        .unwrap();
    let update: valdrix_shared::settings::SettingsUpdate = serde_json::from_value(json!({
        "jira_enabled": true, "jira_base_url": jira, "jira_email": "ops@slow.example",
        "jira_project_key": "OPS", "jira_api_token": "jira-token-of-the-slow-tenant",
    }))
    .unwrap();
    let applied = valdrix_shared::settings::apply(
        &Default::default(),
        update,
        Tier::Pro,
        &slow,
        &w.state.keys,
        valdrix_shared::outbound::Policy::from_config(&w.state.config),
    )
    .unwrap();
    valdrix_shared::settings::save(&w.state.audit, &slow, &applied, 0, &ctx)
        .await
        .unwrap();
    futures::stream::iter(0..TENANTS - 2)
        .for_each_concurrent(8, |i| {
            let (audit, ctx) = (&w.state.audit, &ctx);
            async move {
                let id = format!("t{i:04}-{}", valdrix_tests::unique("x"));
                tenancy::create_tenant(audit, Some(id), "T", Tier::Free, ctx)
                    .await
                    .unwrap();
            }
        })
        .await;

    let (state, queue) = (w.state.notifying(), MemoryQueue::default());
    let daily = Daily {
        state: &state,
        signer: None,
        queue: &queue,
    };
    let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let queued = evidence_daily::handle(&daily, &schedule, Deadline::unbounded())
        .await
        .unwrap();
    let work = queue.take();
    assert_eq!(queued["tenants_queued"], TENANTS, "{queued}");
    assert_eq!(work.len(), TENANTS);

    // The mapping's batches of ten, five invocations at a time at most
    // (template.yaml); the slow tenant's batch is one of them.
    let batches: Vec<_> = work.chunks(10).map(<[_]>::to_vec).collect();
    let (slow_batch, others): (Vec<_>, Vec<_>) = batches
        .into_iter()
        .partition(|b| b.iter().any(|t| t.tenant_id == slow));
    let daily = &daily;
    let started = std::time::Instant::now();
    let slow_run = async {
        evidence_daily::handle(daily, &sqs_event(&slow_batch[0]), Deadline::unbounded()).await
    };
    let rest = async {
        let _held = jira_calls.acquire().await.unwrap();
        let backs: Vec<Vec<String>> = futures::stream::iter(others)
            .map(|b| async move {
                let answer = evidence_daily::handle(daily, &sqs_event(&b), Deadline::unbounded())
                    .await
                    .unwrap();
                handed_back(&answer)
            })
            .buffer_unordered(4)
            .collect()
            .await;
        assert!(backs.iter().all(Vec::is_empty), "{backs:?}");
        // Every tenant but the slow one has its evidence while the slow
        // tenant's Jira still holds its request.
        for t in &work {
            if t.tenant_id != slow {
                let mut tries = 0;
                while !has_evidence(&w, &t.tenant_id).await {
                    tries += 1;
                    assert!(tries < 200, "{} has no evidence", t.tenant_id);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert!(
            !has_evidence(&w, &slow).await,
            "the slow tenant is still held"
        );
        eprintln!(
            "{} other tenants recorded in {:.1} s while the slow one was held",
            TENANTS - 1,
            started.elapsed().as_secs_f64()
        );
        // The receiver gives up: the slow tenant's check fails, on record.
        jira_release.notify_waiters();
    };
    let (slow_answer, ()) = tokio::time::timeout(Duration::from_secs(300), async {
        tokio::join!(slow_run, rest)
    })
    .await
    .expect("the other tenants waited for the slow one");
    assert_eq!(handed_back(&slow_answer.unwrap()), Vec::<String>::new());
    let (events, _) = w.state.audit.page(&slow, 50, None, true).await.unwrap();
    let jira = events
        .iter()
        .find(|e| e.event_type.starts_with("evidence.") && e.details["channel"] == "jira")
        .expect("the slow tenant's Jira check is on record");
    assert_eq!(jira.details["status"], "failed", "{:?}", jira.details);
}

#[tokio::test]
async fn a_batch_at_its_deadline_hands_its_tenants_back() {
    let w = FakeWorld::new(sqlite_store().await, Duration::from_secs(2)).await;
    let (state, queue) = (w.state.notifying(), MemoryQueue::default());
    let daily = Daily {
        state: &state,
        signer: None,
        queue: &queue,
    };
    let work = [evidence_daily::TenantWork {
        tenant_id: w.tenant.clone(),
        run: "2026-12-07".into(),
    }];
    let mut event = sqs_event(&work);
    event["Records"]
        .as_array_mut()
        .unwrap()
        .push(json!({"messageId": "m-garbage", "body": "not json", "eventSource": "aws:sqs"}));
    // Less left than a tenant's reserve: nothing starts, everything goes back.
    let near = Deadline::after(evidence_daily::TENANT_RESERVE / 2);
    let answer = evidence_daily::handle(&daily, &event, near).await.unwrap();
    let mut back = handed_back(&answer);
    back.sort();
    let mut expected = ["m-garbage".to_owned(), format!("m-{}", w.tenant)];
    expected.sort();
    assert_eq!(back, expected);
    assert!(!has_evidence(&w, &w.tenant).await, "nothing ran");
    // With time left, the tenant runs; the unreadable message still goes back.
    let answer = evidence_daily::handle(&daily, &event, Deadline::unbounded())
        .await
        .unwrap();
    assert_eq!(handed_back(&answer), ["m-garbage"]);
    assert!(has_evidence(&w, &w.tenant).await);
}
