//! The cost-ingest function: FOCUS cost exports (CSV, plain or gzip) under
//! `tenants/<tenant_id>/…` into the tenant's ledger, in steps.
//!
//! Two triggers, one handler: S3 `ObjectCreated` events start a file, and
//! the function's own queue carries a file's next step when one invocation
//! was not enough ([`valdrix_shared::ledger::resume`]: the position is in the
//! store, the message only names the file). Each step streams the object
//! from S3 (a ranged read from the recorded offset when plain) and stops
//! before the invocation's deadline.
//!
//! A transient failure (S3, SQS or the store unavailable) fails the S3
//! invocation, or the one queue message, so it is retried; every write is
//! idempotent and a step redelivered finds the file moved on. An object
//! outside `tenants/<id>/`, for an unknown tenant, or that is not a FOCUS CSV
//! is logged and skipped (a retry could not fix it).

mod object;
mod queue;
mod trigger;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::ledger::ingest::{Budget, IngestError, Pace};
use valdrix_shared::ledger::resume::{CostFile, Step, ingest_step};
use valdrix_shared::state::Core;
use valdrix_shared::store::StoreError;
use valdrix_shared::tenancy;

pub use object::{decode_key, tenant_of};
pub use queue::{Continuation, IngestQueue};
pub use trigger::{Delivery, Trigger};

/// A failure a retry may cure (S3, the queue or the store unavailable): the
/// invocation (or the queue message) fails with it, and is retried. What a
/// retry cannot cure is skipped and logged, never an error.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("s3: {0}")]
    S3(String),
    #[error("sqs: {0}")]
    Queue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The error type Lambda records names the kind, so the failure queue and
/// the alarms tell an S3 outage from a store outage.
impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(f: Failure) -> Self {
        let kind = match f {
            Failure::S3(_) => "CostIngest.S3Unavailable",
            Failure::Queue(_) => "CostIngest.QueueUnavailable",
            Failure::Store(_) => "CostIngest.StoreUnavailable",
        };
        Self {
            error_type: kind.into(),
            error_message: f.to_string(),
        }
    }
}

/// What the function works with besides the core state.
pub struct Ingest<'a> {
    pub core: &'a Core,
    pub s3: &'a aws_sdk_s3::Client,
    pub queue: &'a IngestQueue,
    pub pace: Pace,
}

/// How long before its deadline an invocation stops taking records: time to
/// land the batches in flight and record where it stopped.
pub fn budget(deadline: Deadline) -> Budget {
    let reserve = (deadline.remaining() / 10).clamp(
        std::time::Duration::from_millis(500),
        std::time::Duration::from_secs(30),
    );
    Budget::until(deadline.less(reserve))
}

/// One invocation: S3 events answer the per-object outcomes (a failure
/// fails the invocation); queue messages answer the ones to retry.
pub async fn handle(
    ingest: &Ingest<'_>,
    trigger: Trigger,
    budget: Budget,
) -> Result<Value, Failure> {
    match trigger {
        Trigger::S3(files) => {
            let mut outcomes = Vec::new();
            for file in files {
                // Lambda retries a failed S3 invocation: count every one a retry.
                outcomes.push(one_file(ingest, &file, budget, true).await?);
            }
            Ok(json!({ "objects": outcomes }))
        }
        Trigger::Queue(messages) => {
            let mut response = SqsBatchResponse::default();
            for Delivery {
                message_id,
                file,
                redelivered,
            } in messages
            {
                let Some(file) = file else {
                    tracing::warn!(%message_id, "unreadable continuation dropped");
                    continue;
                };
                if let Err(e) = one_file(ingest, &file, budget, redelivered).await {
                    tracing::error!(%message_id, error = %e, "cost file step failed; redelivered later");
                    response.add_failure(message_id);
                }
            }
            Ok(serde_json::to_value(response).unwrap_or_default())
        }
    }
}

/// One step of one file; its next step queued when the budget ran out.
/// A retried delivery whose step was recorded sends the next step's message
/// again (the failure may have been that send); a mere copy does nothing.
async fn one_file(
    ingest: &Ingest<'_>,
    file: &Continuation,
    budget: Budget,
    redelivered: bool,
) -> Result<Value, Failure> {
    let key = &file.key;
    let next = |step| Continuation {
        step,
        ..file.clone()
    };
    let outcome = match step(ingest, file, budget).await? {
        Ok(Step::Done(report)) => json!({"key": key, "status": "ingested", "report": report}),
        Ok(Step::AlreadyDone(report)) => {
            json!({"key": key, "status": "already ingested", "report": report})
        }
        Ok(Step::Paused { at, next: step }) => {
            ingest.queue.send(&next(step)).await?;
            json!({"key": key, "status": "continues", "next_step": step, "next_line": at.line})
        }
        Ok(Step::Recorded { next: step }) if redelivered => {
            ingest.queue.send(&next(step)).await?;
            json!({"key": key, "status": "continues", "next_step": step})
        }
        Ok(Step::Recorded { .. } | Step::Overtaken) => json!({"key": key, "status": "overtaken"}),
        Ok(Step::Unreadable(reason)) | Err(reason) => {
            tracing::warn!(%key, %reason, "cost object skipped");
            json!({"key": key, "status": "skipped", "reason": reason})
        }
    };
    Ok(outcome)
}

/// `Ok(Err(reason))` for an object that can never be ingested.
async fn step(
    ingest: &Ingest<'_>,
    file: &Continuation,
    budget: Budget,
) -> Result<Result<Step, String>, Failure> {
    let Some(tenant) = tenant_of(&file.key) else {
        return Ok(Err("the key is not under tenants/<tenant_id>/".into()));
    };
    let state = ingest.core;
    if tenancy::get_tenant(state.store.as_ref(), tenant)
        .await?
        .is_none()
    {
        return Ok(Err(format!("tenant {tenant} does not exist")));
    }
    if budget.deadline.passed() {
        // Nothing left of this invocation: the whole file is the next one's.
        return Ok(Ok(Step::Paused {
            at: Default::default(),
            next: file.step,
        }));
    }
    let etag = match &file.etag {
        Some(etag) => object::bare(etag),
        None => object::etag(ingest.s3, &file.bucket, &file.key).await?,
    };
    let cost_file = CostFile {
        tenant_id: tenant.to_owned(),
        source: format!("s3://{}/{}", file.bucket, file.key),
        version: etag.clone(),
        step: file.step,
    };
    let open = |offset| object::open(ingest.s3, &file.bucket, &file.key, etag, offset);
    match ingest_step(
        &state.store,
        &state.audit,
        &cost_file,
        open,
        ingest.pace,
        budget,
        Actor::System,
    )
    .await
    {
        Ok(step) => Ok(Ok(step)),
        Err(IngestError::Store(e)) => Err(e.into()),
        Err(IngestError::Fetch(e)) => Err(Failure::S3(e)),
        Err(IngestError::Unreadable(reason)) => Ok(Err(reason)),
    }
}
