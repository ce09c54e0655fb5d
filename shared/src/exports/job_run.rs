//! One invocation of an export job's worker: take the job, build its pack
//! with the export's own steps (export.rs) under the invocation's deadline,
//! writing progress as it goes, and record where it ended. A stop at the
//! deadline aborts the upload and queues the job for the next invocation,
//! which starts the pack over; after [`MAX_ATTEMPTS`] it is failed.

use std::time::Duration;

use super::export::{ExportError, deliver, record_outcome};
use super::jobs::{HEARTBEAT_SECONDS, JobError, JobResult, JobState, MAX_ATTEMPTS, Step, claim};
use super::pack::Progress;
use crate::audit::AuditLog;
use crate::audit::checkpoint::Signer;
use crate::deadline::Deadline;
use crate::objects::ObjectStore;
use crate::store::DynStore;

/// Run job `job_id` of `tenant_id` until it ends or `deadline` (which must
/// leave time to abort the upload and save the job).
pub async fn run_job(
    store: &DynStore,
    audit: &AuditLog,
    objects: &dyn ObjectStore,
    signer: &dyn Signer,
    tenant_id: &str,
    job_id: &str,
    deadline: Deadline,
) -> Result<Step, JobError> {
    let Some(mut job) = claim(store.as_ref(), tenant_id, job_id).await? else {
        return Ok(Step::Done);
    };
    let Ok(req) = job.export_request(deadline) else {
        job.fail(
            422,
            "Unprocessable Content",
            "the job's options are not valid",
        );
        job.save(store.as_ref()).await?;
        return Ok(Step::Done);
    };
    let progress = Progress::default();
    let run_id = job.run_id.clone();
    let build = deliver(store, audit, objects, signer, &req, &run_id, &progress);
    tokio::pin!(build);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECONDS));
    heartbeat.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut build => break outcome,
            _ = heartbeat.tick() => {
                job.rows_done = progress.rows();
                if let Err(e) = job.save(store.as_ref()).await {
                    tracing::warn!(error = %e, job_id, "could not record the job's progress");
                }
            }
        }
    };
    job.rows_done = progress.rows();
    let step = match &outcome {
        Ok(d) => {
            job.state = JobState::Succeeded;
            job.result = Some(JobResult {
                key: d.key.clone(),
                filename: d.filename.clone(),
                bytes: d.bytes,
                sha256: d.sha256.clone(),
                manifest_sha256: d.manifest_sha256.clone(),
            });
            Step::Done
        }
        Err(ExportError::Build(_)) => {
            job.fail(500, "Internal Server Error", "the pack could not be built");
            Step::Done
        }
        Err(e) if job.attempts >= MAX_ATTEMPTS => {
            let detail = match e {
                ExportError::OutOfTime => format!(
                    "the pack was not complete within {MAX_ATTEMPTS} invocations; ask for fewer rows (a narrower window or a row cap)"
                ),
                other => format!("{} ({MAX_ATTEMPTS} attempts)", other.reason()),
            };
            job.fail(503, "Service Unavailable", &detail);
            Step::Done
        }
        Err(e) => {
            tracing::warn!(
                reason = e.reason(),
                attempt = job.attempts,
                job_id,
                "export job stopped; queued again"
            );
            job.state = JobState::Queued;
            job.rows_estimate = Some(job.rows_estimate.unwrap_or(0).max(job.rows_done));
            Step::Again
        }
    };
    job.save(store.as_ref()).await?;
    if step == Step::Done {
        record_outcome(audit, &req, &run_id, outcome.as_ref()).await;
    }
    Ok(step)
}
