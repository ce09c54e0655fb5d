//! The deadline path, with every invocation's budget at one second
//! (`VALDRIX_INVOCATION_BUDGET_SECONDS=1`, less the stop reserve: spent
//! before the first page is out). The GET's job is not done within its
//! budget (202 with its `Location`); each attempt stops cleanly (the upload aborted, the job
//! queued again), and after the last the job is failed with a problem
//! document. Every requested run has its failure on record. A process of
//! its own: the budget is process-wide.

use std::sync::Arc;

use valdrix_shared::audit::Actor;
use valdrix_shared::exports::jobs::MAX_ATTEMPTS;
use valdrix_shared::http::layers;
use valdrix_shared::state::AppState;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{call, local_signer, sqlite_store, test_config, unique, user_token};

#[tokio::test]
async fn a_pack_that_does_not_fit_is_handed_on_then_failed_after_its_attempts() {
    // SAFETY: set before any other thread of this test binary reads it.
    unsafe { std::env::set_var("VALDRIX_INVOCATION_BUDGET_SECONDS", "1") };
    let config = Arc::new(test_config(&[]));
    let dir = std::env::temp_dir().join(unique("valdrix-packs"));
    let objects = compliance_export::local_object_store(&dir, &config);
    let mut state = AppState::with_objects(config, sqlite_store().await, Some(objects));
    Arc::get_mut(&mut state).unwrap().audit_signer = Some(local_signer());
    let router = layers(compliance_export::router(state.clone()), &state.config);
    let ctx = ChangeContext {
        actor: Actor::AdminKey,
        request_id: None,
    };
    let tenant = unique("acme");
    tenancy::create_tenant(&state.audit, Some(tenant.clone()), "Acme", Tier::Pro, &ctx)
        .await
        .unwrap();
    let sub = unique("user");
    let email = format!("{sub}@acme.example");
    tenancy::put_member(
        state.store.as_ref(),
        &state.audit,
        &tenant,
        &sub,
        Role::Owner,
        &email,
        &ctx,
    )
    .await
    .unwrap();
    let token = user_token(&sub, &email);
    let request = |uri: &str| {
        http::Request::get(uri)
            .header("host", "api.example.com")
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(lambda_http::Body::Empty)
            .unwrap()
    };

    let (status, headers, job) = call(&router, request("/api/v1/audit/compliance-pack")).await;
    assert_eq!(status, 202, "{job}");
    let location = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!(
            "/api/v1/audit/compliance-pack/exports/{}",
            job["id"].as_str().unwrap()
        )
    );

    let mut last = job;
    for _ in 0..600 {
        let (status, _, now) = call(&router, request(&location)).await;
        assert_eq!(status, 200, "{now}");
        last = now;
        if last["state"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last["state"], "failed", "{last}");
    assert_eq!(last["attempts"], MAX_ATTEMPTS);
    assert_eq!(last["problem"]["status"], 503);
    assert!(
        last["problem"]["detail"]
            .as_str()
            .unwrap()
            .contains("invocations"),
        "{last}"
    );
    // No upload left behind: nothing under the tenant's packs.
    let packs = dir.join("packs").join(&tenant);
    let left: Vec<_> = std::fs::read_dir(&packs)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // One run (the GET is the job's): requested, then failed once, after
    // its last attempt.
    let (events, _) = state.audit.page(&tenant, 100, None, true).await.unwrap();
    let kinds = |t: &str| events.iter().filter(|e| e.event_type == t).count();
    assert_eq!(kinds("audit.export_requested"), 1);
    assert_eq!(kinds("audit.export_failed"), 1);
    assert_eq!(kinds("audit.export_completed"), 0);
}
