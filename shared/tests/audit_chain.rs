//! The audit hash chain on both backends: linear under concurrency, every
//! hash recomputable, and any tampering named at its first broken seq.

use futures::future::join_all;
use serde_json::{Value, json};
use valdrix_shared::audit::{
    Actor, AuditError, AuditLog, NewEvent, REDACTED, Redactor, Verification,
};
use valdrix_shared::store::{Condition, DynStore, Query, SortKey, StoreError, WriteOp};
use valdrix_tests::unique;

fn event(tenant: &str, n: usize) -> NewEvent {
    NewEvent {
        tenant_id: tenant.into(),
        event_type: "test.event".into(),
        actor: Actor::User {
            user_id: "u-1".into(),
            email: "u1@example.com".into(),
        },
        request_id: Some(format!("req-{n}")),
        resource: Some("thing/1".into()),
        success: true,
        details: json!({"n": n}),
    }
}

async fn stored_events(store: &DynStore, tenant: &str) -> Vec<valdrix_shared::store::Item> {
    let mut q = Query::new(
        format!("TENANT#{tenant}"),
        SortKey::Prefix("AUDIT#0".into()),
    );
    q.limit = 1000;
    store.query(q).await.unwrap().items
}

async fn chain_of(store: &DynStore, n: usize) -> (AuditLog, String) {
    let log = AuditLog::new(store.clone(), Redactor::default());
    let tenant = unique("tenant");
    for i in 0..n {
        log.append(event(&tenant, i)).await.unwrap();
    }
    (log, tenant)
}

async fn concurrent_writers_leave_one_linear_chain(store: DynStore) {
    let log = AuditLog::new(store.clone(), Redactor::default());
    let tenant = unique("tenant");
    let writes = (0..20).map(|i| {
        let log = log.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move { log.append(event(&tenant, i)).await })
    });
    let results = join_all(writes).await;
    let mut seqs: Vec<u64> = results
        .into_iter()
        .map(|r| r.unwrap().unwrap().seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>(), "no gap, no duplicate");
    match log.verify(&tenant).await.unwrap() {
        Verification::Intact {
            events_checked,
            head_seq,
            ..
        } => {
            assert_eq!((events_checked, head_seq), (20, 20));
        }
        broken => panic!("chain broken: {broken:?}"),
    }
    // Every stored hash recomputes from the stored content.
    let (events, _) = log.page(&tenant, 100, None, false).await.unwrap();
    assert_eq!(events.len(), 20);
    let mut prev = valdrix_shared::audit::GENESIS_HASH.to_string();
    for e in events {
        assert_eq!(e.compute_hash(), e.hash);
        assert_eq!(e.prev_hash, prev);
        prev = e.hash;
    }
}

async fn tampering_is_named_at_the_first_broken_seq(store: DynStore) {
    // Changed content.
    let (log, tenant) = chain_of(&store, 5).await;
    let mut items = stored_events(&store, &tenant).await;
    items[2]["event"]["details"] = json!({"n": 999});
    store.put(items[2].clone(), Condition::None).await.unwrap();
    assert_broken(log.verify(&tenant).await.unwrap(), 3);

    // A deleted event in the middle.
    let (log, tenant) = chain_of(&store, 5).await;
    store
        .delete(
            &format!("TENANT#{tenant}"),
            "AUDIT#00000000000000000002",
            Condition::None,
        )
        .await
        .unwrap();
    assert_broken(log.verify(&tenant).await.unwrap(), 2);

    // The last event deleted: the head still points past it.
    let (log, tenant) = chain_of(&store, 4).await;
    store
        .delete(
            &format!("TENANT#{tenant}"),
            "AUDIT#00000000000000000004",
            Condition::None,
        )
        .await
        .unwrap();
    assert_broken(log.verify(&tenant).await.unwrap(), 4);

    // Two events swapped between their positions.
    let (log, tenant) = chain_of(&store, 5).await;
    let items = stored_events(&store, &tenant).await;
    let (mut a, mut b) = (items[1].clone(), items[3].clone());
    let (sk_a, sk_b) = (a["sk"].clone(), b["sk"].clone());
    a.insert("sk".into(), sk_b);
    b.insert("sk".into(), sk_a);
    store.put(a, Condition::None).await.unwrap();
    store.put(b, Condition::None).await.unwrap();
    assert_broken(log.verify(&tenant).await.unwrap(), 2);

    // A recomputed hash that no longer links to the next event.
    let (log, tenant) = chain_of(&store, 3).await;
    let mut items = stored_events(&store, &tenant).await;
    let mut event: valdrix_shared::audit::AuditEvent =
        valdrix_shared::audit::parse_item(&items[0]).unwrap();
    event.success = false;
    event.hash = event.compute_hash();
    let mut body = serde_json::to_value(&event).unwrap();
    body.as_object_mut().unwrap().remove("hash");
    items[0].insert("event".into(), body);
    items[0].insert("hash".into(), Value::String(event.hash));
    store.put(items[0].clone(), Condition::None).await.unwrap();
    assert_broken(log.verify(&tenant).await.unwrap(), 2);
}

fn assert_broken(v: Verification, seq: u64) {
    match v {
        Verification::Broken {
            broken_at_seq,
            reason,
        } => {
            assert_eq!(broken_at_seq, seq, "reason: {reason}");
            assert!(!reason.is_empty());
        }
        intact => panic!("tampering not detected: {intact:?}"),
    }
}

async fn details_are_redacted_before_hashing(store: DynStore) {
    let log = AuditLog::new(store.clone(), Redactor::new(["xoxb-planted-secret-123"]));
    let tenant = unique("tenant");
    let mut e = event(&tenant, 0);
    e.details = json!({"jira_api_token": "abc12345", "has_jira_api_token": true, "note": "xoxb-planted-secret-123"});
    let written = log.append(e).await.unwrap();
    assert_eq!(written.details["jira_api_token"], REDACTED);
    assert_eq!(written.details["note"], REDACTED);
    assert_eq!(written.details["has_jira_api_token"], true);
    let raw = serde_json::to_string(&stored_events(&store, &tenant).await).unwrap();
    assert!(!raw.contains("xoxb-planted-secret-123") && !raw.contains("abc12345"));
    assert!(log.verify(&tenant).await.unwrap().is_ok());
}

async fn empty_chain_verifies(store: DynStore) {
    let log = AuditLog::new(store, Redactor::default());
    let v = serde_json::to_value(log.verify(&unique("tenant")).await.unwrap()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["events_checked"], 0);
}

/// A batch lands as consecutive links, or (when one of its ops fails) not at all.
async fn a_batch_is_consecutive_links_or_nothing(store: DynStore) {
    let (log, tenant) = chain_of(&store, 2).await;
    let batch = |from: usize| {
        (from..from + 4)
            .map(|n| (event(&tenant, n), None))
            .collect()
    };
    let linked = log.append_all(batch(2), Vec::new()).await.unwrap();
    let seqs: Vec<u64> = linked.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 4, 5, 6]);
    for pair in linked.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(log.head(&tenant).await.unwrap().unwrap().seq, 6);

    // An op whose condition fails (the item must exist; it does not) cancels the whole batch.
    let missing = WriteOp::Check {
        pk: format!("TENANT#{tenant}"),
        sk: "NOT#THERE".into(),
        condition: Condition::Exists,
    };
    let err = log.append_all(batch(6), vec![missing]).await.unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Store(StoreError::TransactionConditionFailed { index: 0, .. })
        ),
        "{err:?}"
    );
    assert_eq!(stored_events(&store, &tenant).await.len(), 6);
    assert_eq!(log.head(&tenant).await.unwrap().unwrap().seq, 6);
    assert!(log.verify(&tenant).await.unwrap().is_ok());
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() { super::$case(valdrix_tests::sqlite_store().await).await } )* }
        mod dynamo { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() { super::$case(valdrix_tests::dynamo_store().await).await } )* }
    };
}

on_both_backends!(
    concurrent_writers_leave_one_linear_chain,
    tampering_is_named_at_the_first_broken_seq,
    details_are_redacted_before_hashing,
    empty_chain_verifies,
    a_batch_is_consecutive_links_or_nothing,
);
