//! An SQS event source mapping, as Lambda runs one: long-poll the queue for up
//! to `BatchSize` messages, invoke the function synchronously with them as an
//! SQS event, then delete what it finished. With `ReportBatchItemFailures`
//! the messages it names in `batchItemFailures` stay; on a function error the
//! whole batch stays. What stays becomes visible again after the queue's
//! visibility timeout, and moto's redrive moves it to the dead-letter queue
//! after `maxReceiveCount`, as SQS does.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde_json::{Value, json};

use super::aws::REGION;
use super::events::{Stats, record};
use super::runtime_api::Function;

/// One long poll (1 s) of up to `max` messages with their system
/// attributes; on an error, logged under `id`, none after a second's pause.
pub(super) async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: i32,
    id: &str,
) -> Vec<Message> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .wait_time_seconds(1)
        .send()
        .await;
    match received {
        Ok(out) => out.messages.unwrap_or_default(),
        Err(e) => {
            eprintln!(
                "local-stack: {id}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            Vec::new()
        }
    }
}

pub struct QueueMapping {
    pub id: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub report_failures: bool,
}

impl QueueMapping {
    /// From the mapping's resolved properties and its queue's URL.
    pub fn new(id: &str, props: &Value, queue_url: String) -> Result<Self, String> {
        let queue_arn = props["EventSourceArn"]
            .as_str()
            .ok_or_else(|| format!("{id}: no EventSourceArn"))?
            .to_owned();
        let report_failures = props["FunctionResponseTypes"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures"));
        Ok(Self {
            id: id.to_owned(),
            queue_url,
            queue_arn,
            // SQS hands out ten at most per receive; Lambda's default is 10.
            batch_size: props["BatchSize"].as_i64().unwrap_or(10).clamp(1, 10) as i32,
            report_failures,
        })
    }

    pub async fn run(self, sqs: aws_sdk_sqs::Client, function: Arc<Function>, stats: Stats) {
        loop {
            let messages = receive(&sqs, &self.queue_url, self.batch_size, &self.id).await;
            if messages.is_empty() {
                continue;
            }
            let event =
                json!({"Records": messages.iter().map(|m| self.record(m)).collect::<Vec<_>>()});
            let result = function.invoke(event).await;
            let done: Vec<&Message> = match &result {
                Ok(answer) => {
                    let failed = self.failed_ids(answer);
                    messages
                        .iter()
                        .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
                        .collect()
                }
                Err(e) => {
                    eprintln!(
                        "local-stack: {} → {}: {}: {}",
                        self.id, function.spec.id, e.error_type, e.message
                    );
                    Vec::new()
                }
            };
            for m in done {
                if let Some(handle) = m.receipt_handle() {
                    let _ = sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
            record(&stats, &self.id, result.map_err(|e| json!(e)));
        }
    }

    /// The message ids the function handed back (none without
    /// `ReportBatchItemFailures`: then a normal answer finishes the batch).
    fn failed_ids(&self, answer: &Value) -> Vec<String> {
        if !self.report_failures {
            return Vec::new();
        }
        answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect()
    }

    /// One record of the SQS event Lambda builds.
    fn record(&self, m: &Message) -> Value {
        let attributes: serde_json::Map<String, Value> = m
            .attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
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
}
