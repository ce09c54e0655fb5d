use cost_ingest::{Ingest, IngestQueue, Trigger, budget};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use valdrix_shared::config::vars::VALDRIX_INGEST_QUEUE_URL;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::ledger::ingest::Pace;
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let Some(queue_url) = boot.config().ingest_queue_url.clone() else {
        let rule = "must be set: a file larger than one invocation continues through it";
        return Err(boot.refuse(VALDRIX_INGEST_QUEUE_URL, rule).await.into());
    };
    let core = boot.core().await?;
    let aws = boot.aws().await;
    let s3 = aws_sdk_s3::Client::new(aws);
    let queue = IngestQueue {
        client: aws_sdk_sqs::Client::new(aws),
        url: queue_url.to_string(),
    };
    let ingest = Ingest {
        core: &core,
        s3: &s3,
        queue: &queue,
        pace: Pace::default(),
    };
    let ingest = &ingest;
    run(service_fn(move |event: LambdaEvent<Trigger>| async move {
        let deadline = Deadline::invocation(event.context.deadline);
        cost_ingest::handle(ingest, event.payload, budget(deadline)).await
    }))
    .await
}
