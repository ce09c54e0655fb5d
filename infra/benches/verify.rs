//! The bounded-verification benchmark: a `BENCH_EVENTS`-event audit chain
//! (default 100,000; a checkpoint signed every 100 events, as in service) on
//! the embedded store, verified three ways in the same run, three rounds each
//! (medians printed as JSON):
//!
//! - `api`: `GET …/acceptance-evidence/verify` through the evidence
//!   function's router in process, following `next_cursor` to the head;
//! - `whole`: the whole chain in one call (`AuditLog::verify`), the peer;
//! - `scan`: the floor, every event item read in pages of 500, nothing checked.
//!
//!     cargo bench -p valdrix --bench verify

use std::time::Instant;

mod common;

use serde_json::{Value, json};
use valdrix_shared::audit::checkpoint::{self, local::LocalSigner};
use valdrix_shared::audit::{Actor, NewEvent, tenant_pk};
use valdrix_shared::store::{Query, SortKey};
use valdrix_shared::tenancy::{ChangeContext, Role, Tier, create_tenant, put_member};

const VERIFY: &str = "/api/v1/settings/notifications/acceptance-evidence/verify";

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let events: u64 = common::env_or("BENCH_EVENTS", 100_000);
    let dir = common::temp_dir("bench-verify");
    let store = common::sqlite_store(dir.path()).await;
    let state = valdrix_tests::state_with(store.clone());
    let tenant = "bench-verify".to_owned();
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    create_tenant(&state.audit, Some(tenant.clone()), "B", Tier::Pro, &ctx)
        .await
        .expect("tenant");
    put_member(
        store.as_ref(),
        &state.audit,
        &tenant,
        "bench-owner",
        Role::Owner,
        "o@b.io",
        &ctx,
    )
    .await
    .expect("owner");
    let signer =
        LocalSigner::open_or_create(&dir.path().join("audit-signing-key.p8")).expect("key");
    let seeded = Instant::now();
    let mut seq = state
        .audit
        .head(&tenant)
        .await
        .unwrap()
        .map_or(0, |h| h.seq);
    while seq < events {
        let n = (events - seq).min(90);
        let batch = (0..n)
            .map(|i| {
                let e = NewEvent {
                    tenant_id: tenant.clone(),
                    event_type: "bench.event".into(),
                    actor: Actor::System,
                    request_id: Some(format!("req-{}", seq + i)),
                    resource: Some(format!("thing/{}", seq + i)),
                    success: true,
                    details: json!({"n": seq + i, "note": "a short detail"}),
                };
                (e, None)
            })
            .collect();
        let linked = state
            .audit
            .append_all(batch, Vec::new())
            .await
            .expect("append");
        for e in linked
            .iter()
            .filter(|e| e.seq % checkpoint::EVERY_EVENTS == 0)
        {
            checkpoint::sign_at(
                store.as_ref(),
                &signer,
                &tenant,
                e.seq,
                &e.hash,
                chrono::Utc::now(),
            )
            .await
            .expect("sign");
        }
        seq += n;
    }
    let seed_s = seeded.elapsed().as_secs_f64();

    let app = valdrix_shared::http::layers(evidence::router(state.clone()), &state.config);
    let token = valdrix_tests::user_token("bench-owner", "o@b.io");
    let (mut api, mut whole, mut scan) = (Vec::new(), Vec::new(), Vec::new());
    let (mut requests, mut per_request_ms) = (0, Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        let (mut cursor, mut n, mut ms) = (None::<String>, 0, Vec::new());
        loop {
            let uri = cursor
                .as_ref()
                .map_or(VERIFY.to_owned(), |c| format!("{VERIFY}?cursor={c}"));
            let req = http::Request::builder()
                .uri(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(lambda_http::Body::Empty)
                .unwrap();
            let r = Instant::now();
            let (status, _, body) = valdrix_tests::call(&app, req).await;
            ms.push(r.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(
                (status, body["ok"].clone()),
                (200, Value::Bool(true)),
                "{body}"
            );
            n += 1;
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => {
                    assert_eq!(body["complete"], true);
                    break;
                }
            }
        }
        api.push(t.elapsed().as_secs_f64());
        (requests, per_request_ms) = (n, ms);

        let t = Instant::now();
        assert!(state.audit.verify(&tenant).await.unwrap().is_ok());
        whole.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let (mut read, mut cursor) = (0u64, None);
        loop {
            let page = store
                .query(Query {
                    pk: tenant_pk(&tenant),
                    sk: SortKey::Between("AUDIT#0".into(), "AUDIT#1".into()),
                    descending: false,
                    limit: 500,
                    cursor,
                })
                .await
                .unwrap();
            read += page.items.len() as u64;
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert!(read >= events);
        scan.push(t.elapsed().as_secs_f64());
    }
    let total = state.audit.head(&tenant).await.unwrap().unwrap().seq as f64;
    let per = common::sorted(&per_request_ms);
    let (api, whole, scan) = (median(api), median(whole), median(scan));
    println!(
        "{}",
        json!({
            "events": total,
            "checkpoints": total as u64 / checkpoint::EVERY_EVENTS,
            "seed_s": common::round2(seed_s),
            "api": {
                "requests": requests,
                "s": common::round2(api),
                "events_per_s": (total / api).round(),
                "per_request_ms_p50": common::round2(common::percentile(&per, 50.0)),
                "per_request_ms_max": common::round2(*per.last().unwrap()),
                "events_per_s_per_request": (5000.0 / (common::percentile(&per, 50.0) / 1000.0)).round(),
            },
            "whole": {"s": common::round2(whole), "events_per_s": (total / whole).round()},
            "scan": {"s": common::round2(scan), "events_per_s": (total / scan).round()},
            "api_over_whole": common::round2(api / whole),
            "whole_over_scan": common::round2(whole / scan),
            "load": common::load_average(),
        })
    );
}
