use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let core = boot.core().await?;
    let s3 = aws_sdk_s3::Client::new(boot.aws().await);
    let (core, s3) = (&core, &s3);
    run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        cost_ingest::handle(core, s3, event.payload).await
    }))
    .await
}
