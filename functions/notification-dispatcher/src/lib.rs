//! The notification-dispatcher function. Two triggers, one handler:
//! - the table's stream: every new `pending` delivery is tried at once;
//! - a schedule (every minute): the sweep of the due index — retries whose time
//!   has come, claims whose worker died, deliveries no stream record reached —
//!   and of the audit checkpoints that came due (main.rs, with the KMS key).
//!
//! A replayed stream record is harmless: a delivery is claimed with a
//! conditional write before any send, and a delivered one is never sent again.

mod sqs;

use serde_json::{Value, json};
use valdrix_shared::policy::dispatch::{DispatchError, Dispatcher, Step};
use valdrix_shared::policy::{Channel, DeliveryStatus};

pub use sqs::SqsDeadLetters;

/// The pending deliveries a stream batch announces.
pub fn pending_from_stream(event: &Value) -> Vec<(String, Channel)> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    records
        .iter()
        .filter_map(|record| {
            let image = record.get("dynamodb")?.get("NewImage")?;
            let text = |k: &str| image.get(k)?.get("S")?.as_str();
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

/// The one-minute schedule (the sweep), not a stream batch.
pub fn is_schedule(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.events")
}

/// Handle one invocation; answers what happened to each delivery it touched.
pub async fn handle(dispatcher: &Dispatcher<'_>, event: &Value) -> Result<Value, DispatchError> {
    let now = chrono::Utc::now().timestamp();
    let outcomes: Vec<(String, Channel, Step)> = if is_schedule(event) {
        dispatcher.sweep(now).await?
    } else {
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
            return Err(e);
        }
        done
    };
    for (event_id, channel, step) in &outcomes {
        tracing::info!(event_id, channel = channel.as_str(), step = ?step, "delivery processed");
    }
    Ok(json!({
        "processed": outcomes.len(),
        "outcomes": outcomes.iter().map(|(e, c, s)| json!({"event_id": e, "channel": c, "step": format!("{s:?}")})).collect::<Vec<_>>(),
    }))
}
