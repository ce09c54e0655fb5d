//! Where an export job's worker runs: Lambda's asynchronous invocation of the
//! compliance-pack-worker function ([`super::lambda_queue`], in AWS and the
//! local stack), or a task of this process ([`InProcess`], `valdrix serve` and the
//! tests). Either way the worker is [`run_job`] under an invocation's
//! deadline, handed on to the next invocation while the job says `Again`.

use std::sync::Arc;
use std::time::Duration;

use super::jobs::Step;
use super::run_job;
use crate::audit::AuditLog;
use crate::audit::checkpoint::DynSigner;
use crate::config::process;
use crate::deadline::Deadline;
use crate::objects::DynObjectStore;
use crate::store::DynStore;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The key of the event that carries a job to the worker.
pub const JOB_EVENT: &str = "valdrix_export_job";
/// Stop this long before the invocation's deadline: time to abort the
/// upload, save the job and hand it on.
pub const STOP_RESERVE: Duration = Duration::from_secs(5);

/// Which job the worker is to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    pub tenant_id: String,
    pub job_id: String,
}

#[async_trait]
pub trait Enqueue: Send + Sync {
    /// Hand `job` to a worker; an error means nobody will run it.
    async fn enqueue(&self, job: &JobEvent) -> Result<(), String>;
}

/// The job queue a router's state gives.
#[derive(Clone)]
pub struct JobQueue(pub Arc<dyn Enqueue>);

/// What the worker needs.
#[derive(Clone)]
pub struct Worker {
    pub store: DynStore,
    pub audit: AuditLog,
    pub objects: Option<DynObjectStore>,
    pub signer: Option<DynSigner>,
}

impl Worker {
    /// One invocation's worth of `job`.
    pub async fn run(&self, job: &JobEvent, deadline: Deadline) -> Result<Step, String> {
        let (Some(objects), Some(signer)) = (&self.objects, &self.signer) else {
            return Err("no export store or signing key here".into());
        };
        run_job(
            &self.store,
            &self.audit,
            objects.as_ref(),
            signer.as_ref(),
            &job.tenant_id,
            &job.job_id,
            deadline,
        )
        .await
        .map_err(|e| e.to_string())
    }
}

/// A task of this process per job; each round gets the budget an invocation
/// would (`VALDRIX_INVOCATION_BUDGET_SECONDS`, unbounded when unset).
pub struct InProcess(pub Worker);

#[async_trait]
impl Enqueue for InProcess {
    async fn enqueue(&self, job: &JobEvent) -> Result<(), String> {
        let (worker, job) = (self.0.clone(), job.clone());
        tokio::spawn(async move {
            loop {
                let deadline = match process::invocation_budget() {
                    Some(budget) => Deadline::after(budget).less(STOP_RESERVE),
                    None => Deadline::unbounded(),
                };
                match worker.run(&job, deadline).await {
                    Ok(Step::Again) => continue,
                    Ok(Step::Done) => break,
                    Err(e) => {
                        tracing::error!(error = %e, job_id = %job.job_id, "export job worker failed");
                        break;
                    }
                }
            }
        });
        Ok(())
    }
}
