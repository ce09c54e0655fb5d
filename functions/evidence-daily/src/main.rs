use evidence_daily::Daily;
use evidence_daily::queue::SqsTenantQueue;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use valdrix_shared::config::vars::VALDRIX_DAILY_RUN_QUEUE_URL;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let Some(queue_url) = boot.config().daily_run_queue_url.clone() else {
        let rule = "must be set: the daily run queues one message per tenant there";
        return Err(boot.refuse(VALDRIX_DAILY_RUN_QUEUE_URL, rule).await.into());
    };
    let state = boot.notifying().await?;
    // The daily audit checkpoints are signed with the template's KMS key.
    let signer = boot.audit_signer().await?;
    let queue = SqsTenantQueue {
        client: aws_sdk_sqs::Client::new(boot.aws().await),
        queue_url: queue_url.to_string(),
    };
    let daily = Daily {
        state: &state,
        signer: Some(signer.as_ref()),
        queue: &queue,
    };
    let daily = &daily;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = Deadline::invocation(event.context.deadline);
        evidence_daily::handle(daily, &event.payload, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}
