// Each test file uses part of it.
#![allow(dead_code)]

//! The daily run's queue and event source mapping, in memory: the schedule's
//! messages kept in order, handed back as SQS batches of the template's size.

use std::sync::Mutex;

use async_trait::async_trait;
use evidence_daily::{Daily, TenantQueue, TenantWork};
use serde_json::{Value, json};
use valdrix_shared::deadline::Deadline;

#[derive(Default)]
pub struct MemoryQueue(pub Mutex<Vec<TenantWork>>);

#[async_trait]
impl TenantQueue for MemoryQueue {
    async fn send(&self, work: &[TenantWork]) -> Result<(), String> {
        assert!(work.len() <= 10, "SQS takes at most ten per batch");
        self.0.lock().unwrap().extend_from_slice(work);
        Ok(())
    }
}

impl MemoryQueue {
    pub fn take(&self) -> Vec<TenantWork> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An SQS event of `work` as the event source mapping delivers it; message
/// ids are `m-<tenant>`.
pub fn sqs_event(work: &[TenantWork]) -> Value {
    let records: Vec<Value> = work
        .iter()
        .map(|w| {
            json!({
                "messageId": format!("m-{}", w.tenant_id),
                "receiptHandle": "r",
                "body": serde_json::to_string(w).unwrap(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:DailyRunQueue",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids a batch handed back to SQS.
pub fn handed_back(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// The schedule, then every queued tenant in batches of ten; the message ids
/// handed back.
pub async fn run_daily(daily: &Daily<'_>, queue: &MemoryQueue) -> Vec<String> {
    let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    evidence_daily::handle(daily, &schedule, Deadline::unbounded())
        .await
        .expect("the schedule queues every tenant");
    let mut back = Vec::new();
    for batch in queue.take().chunks(10) {
        let answer = evidence_daily::handle(daily, &sqs_event(batch), Deadline::unbounded())
            .await
            .expect("a batch");
        back.extend(handed_back(&answer));
    }
    back
}
