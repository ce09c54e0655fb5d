//! Signed checkpoints on both backends: an append that crosses a multiple of
//! EVERY_EVENTS marks its tenant due and the sweep signs its head (once,
//! however often it runs); a signature verifies with the registered key; a
//! rewrite of the chain no longer matches what was signed.

use chrono::Utc;
use serde_json::json;
use valdrix_shared::audit::checkpoint::{self, DUE_PK, EVERY_EVENTS};
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

fn doc(rel: &str) -> String {
    let path = format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The pages an auditor and an operator read say what the code does.
#[test]
fn the_docs_name_the_interval_the_statement_the_key_and_the_pack_files() {
    use valdrix_shared::audit::checkpoint::{KEY_SPEC, SIGNING_ALGORITHM, STATEMENT_HEADER};
    use valdrix_shared::exports::{proof, report, verify_md};
    let chain = doc("docs/audit_chain.md");
    for needle in [
        format!("every {EVERY_EVENTS} events"),
        format!("multiple of\n  {EVERY_EVENTS}"),
        STATEMENT_HEADER.to_owned(),
        "AUDIT#CHECKPOINT#".to_owned(),
        DUE_PK.to_owned(),
        KEY_SPEC.to_owned(),
        SIGNING_ALGORITHM.to_owned(),
    ] {
        assert!(
            chain.contains(&needle),
            "docs/audit_chain.md lacks {needle:?}"
        );
    }
    let pack = doc("docs/compliance_pack.md");
    for path in [
        proof::EVENTS_PATH,
        proof::SUMS_PATH,
        proof::SUMS_SIG_PATH,
        verify_md::VERIFY_PATH,
        report::REPORT_PATH,
        "audit/checkpoints/<seq>.txt",
        "keys/<key id>.pem",
        "valdrix verify-pack PACK.zip [--public-key FILE] [--format json]",
    ] {
        assert!(pack.contains(path), "docs/compliance_pack.md lacks {path}");
    }
    let deploy = doc("docs/deploy.md");
    assert!(deploy.contains(KEY_SPEC) && deploy.contains("## The audit signing key"));
}
