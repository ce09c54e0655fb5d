//! The function as Lambda runs it: one handler for two kinds of event. An
//! API Gateway request goes through the router (as `lambda_http::run` would
//! take it); `{"valdrix_export_job": {...}}`, this function's own
//! asynchronous invocation, runs one invocation of that job's worker under
//! Lambda's deadline and hands the job on when it asks for more.

use std::sync::Arc;

use axum::extract::FromRef;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Error, LambdaEvent, Service};
use serde_json::{Value, json};
use valdrix_shared::deadline::Deadline;
use valdrix_shared::exports::jobs::Step;
use valdrix_shared::exports::queue::{
    Enqueue, JOB_EVENT, JobEvent, JobQueue, STOP_RESERVE, Worker,
};
use valdrix_shared::state::{Core, Exporting, PackSigner, PackStore};

use crate::queue::LambdaQueue;

/// The deployed function's state: the export capabilities and its queue.
#[derive(Clone)]
pub struct Deployed {
    pub exporting: Exporting,
    pub queue: Arc<LambdaQueue>,
}

impl FromRef<Deployed> for Core {
    fn from_ref(s: &Deployed) -> Self {
        s.exporting.core.clone()
    }
}

impl FromRef<Deployed> for PackStore {
    fn from_ref(s: &Deployed) -> Self {
        PackStore(Some(s.exporting.objects.clone()))
    }
}

impl FromRef<Deployed> for PackSigner {
    fn from_ref(s: &Deployed) -> Self {
        PackSigner(Some(s.exporting.signer.clone()))
    }
}

impl FromRef<Deployed> for JobQueue {
    fn from_ref(s: &Deployed) -> Self {
        JobQueue(s.queue.clone())
    }
}

/// One event: a job's invocation, or an HTTP request through `app`.
pub async fn handle(
    state: &Deployed,
    app: axum::Router,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let LambdaEvent { payload, context } = event;
    state.queue.learn(&context.invoked_function_arn);
    if let Some(job) = payload.get(JOB_EVENT) {
        let job: JobEvent = serde_json::from_value(job.clone())?;
        let deadline = Deadline::invocation(context.deadline).less(STOP_RESERVE);
        let e = &state.exporting;
        let worker = Worker {
            store: e.core.store.clone(),
            audit: e.core.audit.clone(),
            objects: Some(e.objects.clone()),
            signer: Some(e.signer.clone()),
        };
        // An error fails this invocation: Lambda retries the event, and the
        // job (still queued, or running with no heartbeat) is taken again.
        let step = worker.run(&job, deadline).await?;
        if step == Step::Again {
            state.queue.enqueue(&job).await?;
        }
        return Ok(json!({ "job_id": job.job_id, "step": format!("{step:?}") }));
    }
    let request: LambdaRequest = serde_json::from_value(payload)?;
    let mut adapter = Adapter::from(app);
    std::future::poll_fn(|cx| adapter.poll_ready(cx))
        .await
        .map_err(|e| match e {})?;
    let response = adapter
        .call(LambdaEvent::new(request, context))
        .await
        .map_err(|e| match e {})?;
    Ok(serde_json::to_value(response)?)
}
