//! The notification-dispatcher function. Two triggers, one handler:
//! - the table's stream: every new `pending` delivery is tried at once;
//! - a schedule (every minute): the sweep of the due index — retries whose time
//!   has come, claims whose worker died, deliveries no stream record reached —
//!   and of the audit checkpoints that came due (main.rs, with the KMS key).
//!
//! A replayed stream record is harmless: a delivery is claimed with a
//! conditional write before any send, and a delivered one is never sent again.

mod sqs;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use serde::Deserialize;
use serde_dynamo::AttributeValue;
use serde_json::{Value, json};
use valdrix_shared::policy::dispatch::{DispatchError, Dispatcher, Step};
use valdrix_shared::policy::{Channel, DeliveryStatus};

pub use sqs::SqsDeadLetters;

/// What invokes the dispatcher: a batch of the table's stream, or the
/// schedule. Lambda hands over either; the event's own shape tells which.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    /// New `pending` deliveries, as the event source mapping filtered them.
    Stream(StreamEvent),
    /// The sweep of the due index.
    Schedule(CloudWatchEvent),
}

/// The pending deliveries a stream batch announces.
pub fn pending_from_stream(event: &StreamEvent) -> Vec<(String, Channel)> {
    event
        .records
        .iter()
        .filter_map(|record| {
            let image = &record.change.new_image;
            let text = |k: &str| match image.get(k)? {
                AttributeValue::S(s) => Some(s.as_str()),
                _ => None,
            };
            let pk = text("pk")?;
            let sk = text("sk")?;
            if !pk.starts_with("POLICY#") || !sk.starts_with("DELIVERY#") {
                return None;
            }
            let status: DeliveryStatus = serde_json::from_value(json!(text("status")?)).ok()?;
            if status != DeliveryStatus::Pending {
                return None;
            }
            let channel: Channel =
                serde_json::from_value(json!(sk.trim_start_matches("DELIVERY#"))).ok()?;
            Some((pk.trim_start_matches("POLICY#").to_owned(), channel))
        })
        .collect()
}

/// Why an invocation failed: the batch (or the sweep) is retried by Lambda,
/// and the error type says which kind for the failure queue and the alarms.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error("a scheduled event from {0:?}, not aws.events")]
    UnknownSchedule(Option<String>),
}

impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(f: Failure) -> Self {
        let kind = match &f {
            Failure::Dispatch(DispatchError::Store(_)) => "Dispatch.StoreUnavailable",
            Failure::Dispatch(DispatchError::MissingEvent(_)) => "Dispatch.MissingEvent",
            Failure::UnknownSchedule(_) => "Dispatch.UnknownTrigger",
        };
        Self {
            error_type: kind.into(),
            error_message: f.to_string(),
        }
    }
}

impl Trigger {
    /// The one-minute schedule (the sweep), not a stream batch.
    pub fn is_schedule(&self) -> bool {
        matches!(self, Trigger::Schedule(_))
    }
}

/// Handle one invocation; answers what happened to each delivery it touched.
pub async fn handle(dispatcher: &Dispatcher<'_>, trigger: &Trigger) -> Result<Value, Failure> {
    let now = chrono::Utc::now().timestamp();
    let outcomes: Vec<(String, Channel, Step)> = match trigger {
        Trigger::Schedule(e) if e.source.as_deref() == Some("aws.events") => {
            dispatcher.sweep(now).await?
        }
        Trigger::Schedule(e) => return Err(Failure::UnknownSchedule(e.source.clone())),
        Trigger::Stream(event) => {
            // Every delivery is tried; a failure fails the invocation afterwards,
            // so the stream redelivers the batch and the retry skips what is done.
            let mut done = Vec::new();
            let mut failed = None;
            for (event_id, channel, step) in dispatcher
                .process_all(pending_from_stream(event), now)
                .await
            {
                match step {
                    Ok(step) => done.push((event_id, channel, step)),
                    Err(e) => {
                        tracing::error!(event_id, channel = channel.as_str(), error = %e, "delivery failed");
                        failed.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e.into());
            }
            done
        }
    };
    for (event_id, channel, step) in &outcomes {
        tracing::info!(event_id, channel = channel.as_str(), step = ?step, "delivery processed");
    }
    Ok(json!({
        "processed": outcomes.len(),
        "outcomes": outcomes.iter().map(|(e, c, s)| json!({"event_id": e, "channel": c, "step": format!("{s:?}")})).collect::<Vec<_>>(),
    }))
}
