//! Listing evidence (newest first, filters, cursor) and verifying the chain,
//! on both store backends.

use http::Method;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::evidence::{CheckRecord, CheckStatus, Recorder};
use valdrix_shared::http::layers;
use valdrix_shared::state::SharedState;
use valdrix_shared::store::{Condition, DynStore};
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{call, state_with, unique, user_token};

const BASE: &str = "/api/v1/settings/notifications/acceptance-evidence";

struct Fixture {
    app: axum::Router,
    state: SharedState,
    tenant: String,
}

async fn fixture(store: DynStore) -> Fixture {
    let state = state_with(store);
    let tenant = unique("t");
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    tenancy::create_tenant(&state.audit, Some(tenant.clone()), "T", Tier::Pro, &ctx)
        .await
        .unwrap();
    for role in [Role::Owner, Role::Member] {
        tenancy::put_member(
            state.store.as_ref(),
            &state.audit,
            &tenant,
            &format!("{tenant}-{}", role.as_str()),
            role,
            "u@t.io",
            &ctx,
        )
        .await
        .unwrap();
    }
    let app = layers(evidence::router(state.clone()), &state.config);
    Fixture { app, state, tenant }
}

impl Fixture {
    async fn get(&self, role: &str, path_and_query: &str) -> (u16, Value) {
        self.get_before(role, path_and_query, None).await
    }

    /// With `deadline_ms` as Lambda's invocation deadline (epoch ms).
    async fn get_before(
        &self,
        role: &str,
        path_and_query: &str,
        deadline_ms: Option<u64>,
    ) -> (u16, Value) {
        let mut req = http::Request::builder()
            .method(Method::GET)
            .uri(path_and_query)
            .header(
                "authorization",
                format!(
                    "Bearer {}",
                    user_token(&format!("{}-{role}", self.tenant), "u@t.io")
                ),
            )
            .body(lambda_http::Body::Empty)
            .unwrap();
        if let Some(ms) = deadline_ms {
            let mut ctx = lambda_http::Context::default();
            ctx.deadline = ms;
            req.extensions_mut().insert(ctx);
        }
        let (status, _, body) = call(&self.app, req).await;
        (status, body)
    }

    /// `runs` runs of three checks and a suite each; returns the run ids.
    async fn record_runs(&self, runs: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..runs {
            let run_id = uuid::Uuid::new_v4().to_string();
            let rec = Recorder {
                audit: &self.state.audit,
                tenant_id: &self.tenant,
                run_id: &run_id,
                actor: Actor::System,
                request_id: None,
                mode: "capture",
            };
            let records: Vec<CheckRecord> = ["slack", "jira", "workflow"]
                .into_iter()
                .map(|channel| CheckRecord {
                    channel: channel.into(),
                    status: CheckStatus::Passed,
                    status_code: Some(200),
                    latency_ms: 5,
                    message: "ok".into(),
                    targets: json!([]),
                })
                .collect();
            let run = rec
                .run(&records, &["slack", "jira", "workflow"])
                .await
                .unwrap();
            assert_eq!(run.overall_status, "success");
            ids.push(run_id);
        }
        ids
    }
}

async fn paging_returns_every_item_once_newest_first(store: DynStore) {
    let f = fixture(store).await;
    f.record_runs(7).await;
    let mut seen = Vec::new();
    let mut url = format!("{BASE}?limit=5");
    loop {
        let (status, page) = f.get("owner", &url).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["seq"].as_u64().unwrap());
            for key in [
                "event_id",
                "run_id",
                "channel",
                "success",
                "actor",
                "timestamp",
                "details",
                "hash",
            ] {
                assert!(item.get(key).is_some(), "{key} missing");
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{BASE}?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 28);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeat");
}

async fn filters_by_run_and_channel(store: DynStore) {
    let f = fixture(store).await;
    let runs = f.record_runs(3).await;
    let (_, page) = f.get("owner", &format!("{BASE}?run_id={}", runs[1])).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|i| i["run_id"] == runs[1].as_str()));
    assert_eq!(items[0]["channel"], "suite");
    let (_, page) = f
        .get("owner", &format!("{BASE}?channel=suite&limit=2"))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = f
        .get(
            "owner",
            &format!("{BASE}?channel=suite&limit=2&cursor={next}"),
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_null());
}

/// A filter that matches little scans many index pages; out of time, the
/// page ends early with a cursor, and following it finds the rest.
async fn a_filtered_scan_stops_at_the_deadline_with_a_cursor(store: DynStore) {
    let f = fixture(store).await;
    let runs = f.record_runs(5).await;
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 1000;
    // Four entries per index page; the oldest run's lie under sixteen newer ones.
    let q = format!("{BASE}?limit=4&run_id={}", runs[0]);
    let (status, page) = f.get_before("owner", &q, Some(past)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page["items"].as_array().unwrap().len() < 4, "{page}");
    let mut found = page["items"].as_array().unwrap().len();
    let mut next = page["next_cursor"].as_str().map(str::to_owned);
    assert!(next.is_some(), "a cursor to go on from: {page}");
    while let Some(c) = next {
        let (status, page) = f.get("owner", &format!("{q}&cursor={c}")).await;
        assert_eq!(status, 200, "{page}");
        found += page["items"].as_array().unwrap().len();
        next = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(found, 4);
}

async fn bad_parameters_are_422_and_members_403(store: DynStore) {
    let f = fixture(store.clone()).await;
    for q in [
        "limit=0",
        "limit=201",
        "limit=ten",
        "cursor=%25%25",
        "channel=email",
        "colour=red",
    ] {
        let (status, body) = f.get("owner", &format!("{BASE}?{q}")).await;
        assert!(status == 422 || status == 400, "{q}: {status} {body}");
    }
    assert_eq!(f.get("member", BASE).await.0, 403);
    // A cursor from another tenant's listing is refused, never followed.
    let other = fixture(store).await;
    other.record_runs(2).await;
    let (_, page) = other.get("owner", &format!("{BASE}?limit=1")).await;
    let foreign = page["next_cursor"].as_str().unwrap();
    let (status, _) = f.get("owner", &format!("{BASE}?cursor={foreign}")).await;
    assert_eq!(status, 422);
}

async fn verify_names_the_first_broken_seq(store: DynStore) {
    let f = fixture(store.clone()).await;
    f.record_runs(2).await;
    let (status, body) = f.get("owner", &format!("{BASE}/verify")).await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
    let head = body["head_seq"].as_u64().unwrap();
    assert_eq!(body["events_checked"].as_u64().unwrap(), head);
    let pk = format!("TENANT#{}", f.tenant);
    let sk = format!("AUDIT#{:020}", head - 3);
    let mut item = store.get(&pk, &sk).await.unwrap().unwrap();
    item["event"]["details"]["status"] = json!("failed");
    store.put(item, Condition::None).await.unwrap();
    let (_, body) = f
        .get("admin-less-owner-check", &format!("{BASE}/verify"))
        .await;
    assert_eq!(body["status"], 403, "an unknown user is refused");
    let (_, body) = f.get("owner", &format!("{BASE}/verify")).await;
    assert_eq!(
        (body["ok"].clone(), body["first_bad_seq"].clone()),
        (json!(false), json!(head - 3))
    );
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::sqlite_store().await).await } )* }
        mod dynamo { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::dynamo_store().await).await } )* }
    };
}

on_both_backends!(
    paging_returns_every_item_once_newest_first,
    filters_by_run_and_channel,
    bad_parameters_are_422_and_members_403,
    verify_names_the_first_broken_seq,
    a_filtered_scan_stops_at_the_deadline_with_a_cursor,
);
