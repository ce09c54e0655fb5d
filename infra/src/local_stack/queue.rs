//! An SQS queue → function, as Lambda's SQS event source mapping runs it:
//! messages received in batches of at most `BatchSize` (long polling),
//! handed over as an SQS event; a batch the function answers is deleted,
//! except the messages it names in `batchItemFailures` when the mapping has
//! `FunctionResponseTypes: [ReportBatchItemFailures]`; a failed invocation
//! deletes nothing. What is not deleted comes back after the queue's
//! visibility timeout, and moto moves it to the dead-letter queue after the
//! queue's `maxReceiveCount` (its `RedrivePolicy`, as SQS does).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::aws::REGION;
use super::runtime_api::Function;

/// Properties of an SQS mapping that change what Lambda does and are not emulated.
const UNSUPPORTED: [&str; 3] = [
    "MaximumBatchingWindowInSeconds",
    "ScalingConfig",
    "FilterCriteria",
];

/// What the mapping did, for `GET /_local/event-sources`.
#[derive(Clone, Default, Serialize)]
pub struct QueueStats {
    pub messages_received: u64,
    pub batches: u64,
    pub failed_batches: u64,
    /// Messages left on the queue because the function named them failed.
    pub item_failures: u64,
    pub messages_deleted: u64,
    /// The function's answers to the last batches (newest last).
    pub last_results: Vec<Value>,
}

pub struct QueueMapping {
    pub id: String,
    pub function: Arc<Function>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    batch_size: i32,
    report_item_failures: bool,
    pub stats: Mutex<QueueStats>,
}

impl QueueMapping {
    /// From the mapping's resolved properties and its queue's URL.
    pub fn new(
        id: &str,
        function: Arc<Function>,
        props: &Value,
        sqs: &aws_sdk_sqs::Client,
        queue_url: String,
    ) -> Result<Self, String> {
        if let Some(key) = UNSUPPORTED.iter().find(|k| !props[**k].is_null()) {
            return Err(format!("{id}: {key} is not emulated by the local stack"));
        }
        let types = props["FunctionResponseTypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(other) = types.iter().find(|t| *t != "ReportBatchItemFailures") {
            return Err(format!(
                "{id}: FunctionResponseTypes {other} is not emulated"
            ));
        }
        Ok(Self {
            id: id.to_owned(),
            function,
            sqs: sqs.clone(),
            queue_url,
            queue_arn: props["EventSourceArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            // SQS hands over at most 10 messages a receive; Lambda's larger
            // batches need a batching window, which is not emulated.
            batch_size: props["BatchSize"].as_i64().unwrap_or(10).clamp(1, 10) as i32,
            report_item_failures: !types.is_empty(),
            stats: Mutex::new(QueueStats::default()),
        })
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, QueueStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Polls until the process ends.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.poll_once(Duration::from_secs(1)).await {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("local-stack: {}: {e}", self.id);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One receive and, when it brought messages, one invocation; the number
    /// of messages handed over.
    pub async fn poll_once(&self, wait: Duration) -> Result<usize, String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| format!("receive: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        self.stats().messages_received += messages.len() as u64;
        let records: Vec<Value> = messages.iter().map(|m| self.record(m)).collect();
        self.stats().batches += 1;
        let keep: Vec<String> = match self.function.invoke(json!({ "Records": records })).await {
            Ok(answer) => {
                let failed = self.failed_items(&answer, &messages);
                self.remember(answer);
                failed
            }
            Err(e) => {
                self.stats().failed_batches += 1;
                self.remember(json!({ "error": e }));
                messages
                    .iter()
                    .filter_map(|m| m.message_id.clone())
                    .collect()
            }
        };
        self.stats().item_failures += keep.len() as u64;
        for m in &messages {
            if m.message_id.as_ref().is_some_and(|id| keep.contains(id)) {
                continue;
            }
            if let Some(handle) = m.receipt_handle() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| {
                        format!("delete: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
                    })?;
                self.stats().messages_deleted += 1;
            }
        }
        Ok(messages.len())
    }

    /// The message ids to leave on the queue after an answer: those named in
    /// `batchItemFailures` (with the response type on); the whole batch when
    /// an entry names none of the batch, as Lambda treats a malformed answer.
    fn failed_items(
        &self,
        answer: &Value,
        messages: &[aws_sdk_sqs::types::Message],
    ) -> Vec<String> {
        if !self.report_item_failures {
            return Vec::new();
        }
        let ids: Vec<String> = messages
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect();
        let mut failed = Vec::new();
        for item in answer["batchItemFailures"].as_array().into_iter().flatten() {
            match item["itemIdentifier"].as_str() {
                Some(id) if ids.iter().any(|m| m == id) => failed.push(id.to_owned()),
                _ => return ids,
            }
        }
        failed
    }

    /// A message as Lambda puts it in an SQS event.
    fn record(&self, m: &aws_sdk_sqs::types::Message) -> Value {
        let attributes: serde_json::Map<String, Value> = m
            .attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str())))
            .collect();
        json!({
            "messageId": m.message_id(),
            "receiptHandle": m.receipt_handle(),
            "body": m.body(),
            "attributes": attributes,
            "messageAttributes": {},
            "md5OfBody": m.md5_of_body(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        })
    }

    fn remember(&self, answer: Value) {
        let mut s = self.stats();
        s.last_results.push(answer);
        let excess = s.last_results.len().saturating_sub(20);
        s.last_results.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_stack::runtime_api::tests::{function, runtime};

    fn sqs() -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_sqs::config::Region::new(REGION))
            .endpoint_url(valdrix_tests::moto_endpoint())
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// A queue in moto redriving to a dead-letter queue after `max_receives`,
    /// its messages visible again at once; `(queue url, its arn, dlq url)`.
    async fn queues(sqs: &aws_sdk_sqs::Client, max_receives: u32) -> (String, String, String) {
        let name = valdrix_tests::unique("dlq");
        let dlq = sqs.create_queue().queue_name(&name).send().await.unwrap();
        let dlq_arn = format!("arn:aws:sqs:{REGION}:123456789012:{name}");
        let props = json!({
            "VisibilityTimeout": 0,
            "RedrivePolicy": {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives},
        });
        let name = valdrix_tests::unique("q");
        let q = sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(super::super::resources::queue_attributes(&props)))
            .send()
            .await
            .unwrap();
        (
            q.queue_url.unwrap(),
            format!("arn:aws:sqs:{REGION}:123456789012:{name}"),
            dlq.queue_url.unwrap(),
        )
    }

    async fn send(sqs: &aws_sdk_sqs::Client, url: &str, bodies: &[&str]) {
        for b in bodies {
            sqs.send_message()
                .queue_url(url)
                .message_body(*b)
                .send()
                .await
                .unwrap();
        }
    }

    async fn count(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        out.messages().len()
    }

    /// The function's answer: every message whose body is "bad" failed.
    const PARTIAL: &str = r#"F=$(printf '%s' "$EVENT" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(json.dumps({"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in e["Records"] if r["body"] == "bad"], "n": len(e["Records"]), "source": e["Records"][0]["eventSource"]}))')
  curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/response" -d "$F" >/dev/null"#;
    const FAIL: &str = r#"curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/error" -d '{"errorType":"Boom","errorMessage":"down"}' >/dev/null"#;

    fn mapping(
        dir: &std::path::Path,
        body: &str,
        sqs: &aws_sdk_sqs::Client,
        url: &str,
        arn: &str,
        report: bool,
    ) -> QueueMapping {
        let f = function(runtime(dir, "", body), Duration::from_secs(10));
        let mut props = json!({"EventSourceArn": arn, "BatchSize": 3});
        if report {
            props["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
        }
        QueueMapping::new("NextStep", f, &props, sqs, url.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn batches_of_the_batch_size_and_only_the_reported_failures_stay() {
        let dir = tempfile::tempdir().unwrap();
        let sqs = sqs();
        let (url, arn, dlq) = queues(&sqs, 2).await;
        send(&sqs, &url, &["a", "bad", "b", "c"]).await;
        let m = mapping(dir.path(), PARTIAL, &sqs, &url, &arn, true);
        // Received, handed over and deleted until only the failing one is left;
        // after its second receive (maxReceiveCount 2) moto moves it to the
        // dead-letter queue, and the queue is empty.
        for _ in 0..30 {
            let handed = m.poll_once(Duration::from_secs(1)).await.unwrap();
            if handed == 0 && m.stats().messages_deleted >= 3 {
                break;
            }
        }
        let s = m.stats().clone();
        assert!(s.last_results.iter().all(|r| r["source"] == "aws:sqs"));
        assert!(s.last_results.iter().all(|r| r["n"].as_u64().unwrap() <= 3));
        assert_eq!((s.messages_deleted, s.item_failures), (3, 2));
        assert_eq!(count(&sqs, &dlq).await, 1);
        m.function.stop_environment();
    }

    #[tokio::test]
    async fn a_failed_invocation_deletes_nothing_and_the_batch_is_redriven() {
        let dir = tempfile::tempdir().unwrap();
        let sqs = sqs();
        let (url, arn, dlq) = queues(&sqs, 1).await;
        send(&sqs, &url, &["a", "b"]).await;
        let m = mapping(dir.path(), FAIL, &sqs, &url, &arn, true);
        let mut handed = 0;
        while handed < 2 {
            handed += m.poll_once(Duration::from_secs(1)).await.unwrap();
        }
        let s = m.stats().clone();
        assert_eq!((s.messages_deleted, s.item_failures), (0, 2));
        assert!(s.failed_batches >= 1);
        assert_eq!(m.poll_once(Duration::from_secs(1)).await.unwrap(), 0);
        let mut in_dlq = 0;
        for _ in 0..3 {
            in_dlq += count(&sqs, &dlq).await;
        }
        assert_eq!(in_dlq, 2);
        m.function.stop_environment();
    }

    #[tokio::test]
    async fn without_the_response_type_an_answer_deletes_the_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let sqs = sqs();
        let (url, arn, _) = queues(&sqs, 3).await;
        send(&sqs, &url, &["bad", "a"]).await;
        let m = mapping(dir.path(), PARTIAL, &sqs, &url, &arn, false);
        let mut handed = 0;
        while handed < 2 {
            handed += m.poll_once(Duration::from_secs(1)).await.unwrap();
        }
        assert_eq!(m.stats().messages_deleted, 2);
        assert_eq!(count(&sqs, &url).await, 0);
        m.function.stop_environment();
    }
}
