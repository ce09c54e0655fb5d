//! The worker's handler on the event compliance-export sends
//! (events/compliance-pack-worker-job.json): a job that is not in the store
//! is done after one read; an event that is not a job fails the invocation
//! with its own error type, so Lambda retries it and then keeps it.

use std::path::Path;
use std::sync::Arc;

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use valdrix_shared::exports::lambda_queue::LambdaQueue;
use valdrix_shared::exports::queue::Worker;
use valdrix_shared::objects::LocalDirStore;
use valdrix_tests::{local_signer, sqlite_store, unique};

fn sample() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/compliance-pack-worker-job.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn worker() -> Worker {
    let state = valdrix_tests::state_with(sqlite_store().await);
    Worker {
        store: state.store.clone(),
        audit: state.audit.clone(),
        objects: Some(Arc::new(LocalDirStore::new(
            std::env::temp_dir().join(unique("worker-packs")),
            [7u8; 32],
        ))),
        signer: Some(local_signer()),
    }
}

/// A queue whose every hand-over would fail: these events never hand on.
fn queue() -> LambdaQueue {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9");
    LambdaQueue::to_self(config)
}

fn event(payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.deadline = (chrono::Utc::now().timestamp_millis() + 60_000) as u64;
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:valdrix-CompliancePackWorkerFunction-1:live"
            .into();
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn a_job_that_is_not_in_the_store_is_done() {
    let answer = compliance_pack_worker::handle(&worker().await, &queue(), event(sample()))
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"job_id": "0193b2f4-7c1e-7a40-9d2e-5c8f1a2b3c4d", "step": "Done"})
    );
}

#[tokio::test]
async fn an_event_that_is_not_a_job_fails_with_its_own_error_type() {
    for payload in [json!({}), json!({"valdrix_export_job": {"tenant_id": 7}})] {
        let failure = compliance_pack_worker::handle(&worker().await, &queue(), event(payload))
            .await
            .unwrap_err();
        let diagnostic = Diagnostic::from(failure);
        assert_eq!(diagnostic.error_type, "Valdrix.NotAJob");
        assert!(
            diagnostic.error_message.contains("valdrix_export_job"),
            "{}",
            diagnostic.error_message
        );
    }
}
