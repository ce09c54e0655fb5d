//! Signed checkpoints on both backends: an append that crosses a multiple of
//! EVERY_EVENTS marks its tenant due and the sweep signs its head (once,
//! however often it runs); a signature verifies with the registered key; a
//! rewrite of the chain no longer matches what was signed.

use chrono::Utc;
use serde_json::json;
use valdrix_shared::audit::checkpoint::{self, DUE_PK, EVERY_EVENTS, Signer};
use valdrix_shared::audit::{Actor, AuditLog, NewEvent, Redactor};
use valdrix_shared::store::{DynStore, Query, SortKey};
use valdrix_tests::{local_signer, unique};

fn event(tenant: &str, n: u64) -> (NewEvent, Option<valdrix_shared::audit::Index>) {
    let e = NewEvent {
        tenant_id: tenant.into(),
        event_type: "test.event".into(),
        actor: Actor::System,
        request_id: None,
        resource: None,
        success: true,
        details: json!({"n": n}),
    };
    (e, None)
}

async fn marked(store: &DynStore) -> Vec<String> {
    let page = store.query(Query::new(DUE_PK, SortKey::All)).await.unwrap();
    page.items
        .iter()
        .map(|i| i["sk"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_n_events_marks_the_tenant_and_the_sweep_signs_once(store: DynStore) {
    let log = AuditLog::new(store.clone(), Redactor::default());
    let signer = local_signer();
    let tenant = unique("tenant");
    // Batches of 25 (as an evidence run appends): one short of the multiple…
    for batch in 0..(EVERY_EVENTS / 25 - 1) {
        log.append_all(
            (0..25).map(|i| event(&tenant, batch * 25 + i)).collect(),
            vec![],
        )
        .await
        .unwrap();
    }
    assert!(
        !marked(&store).await.contains(&tenant),
        "due before {EVERY_EVENTS} events"
    );
    // …then the batch that crosses it.
    log.append_all((0..25).map(|i| event(&tenant, i)).collect(), vec![])
        .await
        .unwrap();
    assert!(marked(&store).await.contains(&tenant));

    let signed = checkpoint::sweep_due(&log, signer.as_ref()).await.unwrap();
    assert!(signed.contains(&tenant), "{signed:?}");
    assert!(
        !marked(&store).await.contains(&tenant),
        "the marker is cleared"
    );
    let c = checkpoint::latest(store.as_ref(), &tenant)
        .await
        .unwrap()
        .unwrap();
    let head = log.head(&tenant).await.unwrap().unwrap();
    assert_eq!(
        (c.statement.seq, c.statement.head_hash.as_str()),
        (EVERY_EVENTS, head.hash.as_str())
    );
    let key = checkpoint::key(store.as_ref(), &c.statement.key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.key, signer.public_key().await.unwrap());
    assert_eq!(key.key_ref, "local");
    assert!(
        key.key
            .verifies(c.statement.text().as_bytes(), &c.signature)
    );

    // Signing the same head again returns the stored checkpoint.
    let again = checkpoint::sign_head(&log, signer.as_ref(), &tenant, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, c);
    assert!(!checkpoint::is_due(&log, &tenant, 1).await.unwrap());
    log.append_all(vec![event(&tenant, 0)], vec![])
        .await
        .unwrap();
    assert!(checkpoint::is_due(&log, &tenant, 1).await.unwrap());
    assert!(
        !checkpoint::is_due(&log, &tenant, EVERY_EVENTS)
            .await
            .unwrap()
    );

    // A chain rewritten from event 1 on cannot keep the signed head.
    let rewritten = log.event(&tenant, EVERY_EVENTS).await.unwrap().unwrap();
    let mut forged = rewritten.clone();
    forged.success = false;
    assert_ne!(forged.compute_hash(), c.statement.head_hash);
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::sqlite_store().await).await } )* }
        mod dynamo { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::dynamo_store().await).await } )* }
    };
}

both_backends!(every_n_events_marks_the_tenant_and_the_sweep_signs_once);
