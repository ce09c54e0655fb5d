//! The compliance-pack-worker function: one invocation of an export job.
//! compliance-export hands it `{"valdrix_export_job": {tenant_id, job_id}}`
//! by an asynchronous invocation; it runs the job's worker under Lambda's
//! deadline (less [`STOP_RESERVE`]) and, when the job asks for more, hands
//! it on to its own next invocation. A job it cannot find is already done.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use valdrix_shared::deadline::Deadline;
use valdrix_shared::exports::jobs::Step;
use valdrix_shared::exports::lambda_queue::LambdaQueue;
use valdrix_shared::exports::queue::{Enqueue, JOB_EVENT, JobEvent, STOP_RESERVE, Worker};

/// Why an invocation failed. Every kind is retried by Lambda (twice, then
/// the event goes to the on-failure queue): the job, still queued or running
/// with no heartbeat, is taken again by the next attempt.
#[derive(Debug)]
pub enum Failure {
    /// The event is not a job (the error type `Valdrix.NotAJob`).
    NotAJob(String),
    /// The worker or its hand-over failed (`Valdrix.JobFailed`).
    Job(String),
}

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Self {
        let (error_type, error_message) = match f {
            Failure::NotAJob(m) => ("Valdrix.NotAJob", m),
            Failure::Job(m) => ("Valdrix.JobFailed", m),
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message,
        }
    }
}

/// One invocation: the job the event names, until it ends or the deadline.
pub async fn handle(
    worker: &Worker,
    queue: &LambdaQueue,
    event: LambdaEvent<Value>,
) -> Result<Value, Failure> {
    let LambdaEvent { payload, context } = event;
    queue.learn(&context.invoked_function_arn);
    let job: JobEvent = payload
        .get(JOB_EVENT)
        .cloned()
        .ok_or_else(|| Failure::NotAJob(format!("the event has no {JOB_EVENT}")))
        .and_then(|j| {
            serde_json::from_value(j).map_err(|e| Failure::NotAJob(format!("{JOB_EVENT}: {e}")))
        })?;
    let deadline = Deadline::invocation(context.deadline).less(STOP_RESERVE);
    let step = run_once(worker, queue, &job, deadline).await?;
    Ok(json!({ "job_id": job.job_id, "step": format!("{step:?}") }))
}

/// The worker's round, then the hand-over when the job asks for more.
pub async fn run_once(
    worker: &Worker,
    queue: &dyn Enqueue,
    job: &JobEvent,
    deadline: Deadline,
) -> Result<Step, Failure> {
    let step = worker.run(job, deadline).await.map_err(Failure::Job)?;
    if step == Step::Again {
        queue.enqueue(job).await.map_err(Failure::Job)?;
    }
    Ok(step)
}
