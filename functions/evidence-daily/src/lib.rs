//! The daily passive evidence run, one unit of work per tenant. A function of
//! its own (not a second trigger on the HTTP evidence function) so each keeps
//! its event shapes:
//!
//! - the schedule's event queues one message per tenant on the daily-run
//!   queue ([`queue`]) and does nothing else, so it finishes in seconds
//!   whatever the number of tenants;
//! - the queue's batches (SQS event source, `ReportBatchItemFailures`) run
//!   their tenants side by side: each tenant's passive checks, then its daily
//!   audit checkpoint ([`checkpoints`]). A tenant that fails is reported back
//!   alone, so SQS retries it and nobody else, and after the queue's
//!   `maxReceiveCount` it lands on the dead-letter queue (an alarm);
//! - the post-deploy hook's check of a new version sends `{"source":
//!   "valdrix.post-deploy-hook", "detail": {"tenant_id": ...}}` to run one
//!   tenant (the smoke tenant) through the same unit, synchronously.

pub mod checkpoints;
pub mod queue;

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use valdrix_shared::audit::checkpoint::Signer;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::evidence::passive::{self, PassiveReport};
use valdrix_shared::metrics::Unit;
use valdrix_shared::state::Notifying;

pub use queue::{TenantQueue, TenantWork};

/// The event source of the hook's single-tenant check.
pub const HOOK_SOURCE: &str = "valdrix.post-deploy-hook";

/// Tenants of one SQS batch run at once. The batch size in template.yaml
/// matches it, so a slow tenant (up to 10 s per outbound check) holds back
/// no other tenant of its batch.
pub const BATCH_CONCURRENCY: usize = 10;

/// A tenant is only started while this much of the invocation is left: its
/// three outbound checks (10 s each at most) and its records must fit.
/// Tenants not started are handed back to SQS, never dropped.
pub const TENANT_RESERVE: Duration = Duration::from_secs(45);

/// What the daily run needs: the notifying state, the checkpoint signer
/// (none in tests that do not sign) and the per-tenant queue.
pub struct Daily<'a> {
    pub state: &'a Notifying,
    pub signer: Option<&'a dyn Signer>,
    pub queue: &'a dyn TenantQueue,
}

#[derive(Debug, thiserror::Error)]
pub enum DailyError {
    /// The schedule could not queue every tenant; Lambda retries the
    /// invocation (at-least-once: a tenant may be queued twice).
    #[error("the daily run could not queue its tenants: {0}")]
    Queue(String),
    #[error("not an event of the daily run: {0}")]
    Event(String),
}

/// The three shapes the function is invoked with.
enum Trigger {
    Schedule,
    Batch(SqsEvent),
    Hook(String),
}

fn trigger(event: &Value) -> Result<Trigger, DailyError> {
    if event.get("Records").is_some() {
        return SqsEvent::deserialize(event)
            .map(Trigger::Batch)
            .map_err(|e| DailyError::Event(e.to_string()));
    }
    if event.get("source").and_then(Value::as_str) == Some(HOOK_SOURCE) {
        return event
            .pointer("/detail/tenant_id")
            .and_then(Value::as_str)
            .map(|t| Trigger::Hook(t.to_owned()))
            .ok_or_else(|| DailyError::Event("the hook's event names no tenant_id".into()));
    }
    Ok(Trigger::Schedule)
}

/// Run the daily run's part that `event` asks for, stopping before `deadline`.
pub async fn handle(
    daily: &Daily<'_>,
    event: &Value,
    deadline: Deadline,
) -> Result<Value, DailyError> {
    match trigger(event)? {
        Trigger::Schedule => {
            let run = chrono::Utc::now().format("%Y-%m-%d").to_string();
            let queued = queue::queue_all(daily.state, daily.queue, &run)
                .await
                .map_err(DailyError::Queue)?;
            tracing::info!(tenants = queued, run, "daily run queued");
            Ok(json!({"tenants_queued": queued, "run": run}))
        }
        Trigger::Hook(tenant_id) => Ok(run_tenant(daily, &tenant_id).await.answer()),
        Trigger::Batch(batch) => {
            let response = run_batch(daily, batch, deadline).await;
            Ok(serde_json::to_value(response).unwrap_or_default())
        }
    }
}

/// One tenant's unit: its passive checks, then its daily checkpoint.
struct TenantRun {
    report: PassiveReport,
    checkpoints: Option<checkpoints::CheckpointReport>,
}

impl TenantRun {
    fn failed(&self) -> bool {
        !self.report.tenants_failed.is_empty()
    }

    fn answer(&self) -> Value {
        let mut answer = serde_json::to_value(&self.report).unwrap_or_default();
        if let Some(c) = &self.checkpoints {
            answer["checkpoints"] = serde_json::to_value(c).unwrap_or_default();
        }
        answer
    }
}

async fn run_tenant(daily: &Daily<'_>, tenant_id: &str) -> TenantRun {
    let report = passive::run_one(daily.state, tenant_id).await;
    // A checkpoint failure is logged and left to the dispatcher's sweep (every
    // 100 events) or tomorrow's run; re-running the checks would not help it.
    let checkpoints = match daily.signer {
        Some(signer) => Some(
            checkpoints::sign_moved(&daily.state.core.audit, signer, &[tenant_id.to_owned()]).await,
        ),
        None => None,
    };
    TenantRun {
        report,
        checkpoints,
    }
}

/// Run a batch's tenants side by side; the messages of tenants that failed,
/// were unreadable or could not start before the deadline go back to SQS.
async fn run_batch(daily: &Daily<'_>, batch: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
    let start_by = deadline.less(TENANT_RESERVE);
    let outcomes: Vec<(String, Result<TenantRun, String>)> = futures::stream::iter(batch.records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            let work: Result<TenantWork, String> = record
                .body
                .as_deref()
                .ok_or_else(|| "a message without a body".to_owned())
                .and_then(|b| serde_json::from_str(b).map_err(|e| e.to_string()));
            let outcome = match work {
                Err(e) => Err(format!("unreadable message: {e}")),
                Ok(_) if start_by.passed() => Err("the invocation's deadline is near".into()),
                Ok(work) => Ok(run_tenant(daily, &work.tenant_id).await),
            };
            (id, outcome)
        })
        .buffer_unordered(BATCH_CONCURRENCY)
        .collect()
        .await;

    let mut response = SqsBatchResponse::default();
    let (mut done, mut failed) = (0.0, 0.0);
    for (message_id, outcome) in outcomes {
        let retry = match outcome {
            Ok(run) => run.failed(),
            Err(why) => {
                tracing::warn!(message_id, why, "daily run: message handed back");
                true
            }
        };
        if retry {
            failed += 1.0;
            let mut item = BatchItemFailure::default();
            item.item_identifier = message_id;
            response.batch_item_failures.push(item);
        } else {
            done += 1.0;
        }
    }
    valdrix_shared::metrics::emit(
        "evidence-daily",
        &[
            ("DailyRunTenantsDone", done, Unit::Count),
            ("DailyRunTenantsRetried", failed, Unit::Count),
        ],
        valdrix_shared::metrics::props([]),
    );
    response
}
