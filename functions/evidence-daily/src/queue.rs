//! The daily run's queue: one message per tenant, so each tenant is its own
//! unit of work (retried alone, delayed by nobody). In AWS an SQS queue with
//! a dead-letter queue behind it (template.yaml `DailyRunQueue`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use valdrix_shared::state::Notifying;
use valdrix_shared::tenancy;

/// One message: which tenant, for which day's run (for the logs; a message
/// delivered twice runs the tenant's checks twice, which is harmless).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantWork {
    pub tenant_id: String,
    pub run: String,
}

#[async_trait]
pub trait TenantQueue: Send + Sync {
    /// Queue every message or say why not.
    async fn send(&self, work: &[TenantWork]) -> Result<(), String>;
}

/// SQS takes at most ten messages per `SendMessageBatch`.
pub const SQS_BATCH: usize = 10;

/// Queue one message per tenant of the directory; how many were queued.
pub async fn queue_all(
    state: &Notifying,
    queue: &dyn TenantQueue,
    run: &str,
) -> Result<u64, String> {
    let store = state.core.store.as_ref();
    let (mut queued, mut cursor) = (0u64, None);
    loop {
        let (ids, next) = tenancy::list_tenant_ids(store, 100, cursor)
            .await
            .map_err(|e| format!("cannot list tenants: {e}"))?;
        let work: Vec<TenantWork> = ids
            .into_iter()
            .map(|tenant_id| TenantWork {
                tenant_id,
                run: run.to_owned(),
            })
            .collect();
        for chunk in work.chunks(SQS_BATCH) {
            queue.send(chunk).await?;
            queued += chunk.len() as u64;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(queued),
        }
    }
}

pub struct SqsTenantQueue {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

#[async_trait]
impl TenantQueue for SqsTenantQueue {
    async fn send(&self, work: &[TenantWork]) -> Result<(), String> {
        let mut pending: Vec<(String, String)> = work
            .iter()
            .enumerate()
            .map(|(i, w)| (i.to_string(), serde_json::to_string(w).unwrap_or_default()))
            .collect();
        // Entries SQS refused (throttling, a transient fault) are sent once more.
        for _attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "SQS send failed: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    )
                })?;
            let refused: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            pending.retain(|(id, _)| refused.contains(&id.as_str()));
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(format!("SQS refused {} message(s) twice", pending.len()))
    }
}
