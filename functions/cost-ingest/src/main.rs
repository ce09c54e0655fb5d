use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use valdrix_shared::{startup, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    let state = AppState::init(config).await?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::new(&aws);
    run(service_fn(|event: LambdaEvent<S3Event>| {
        let (state, s3) = (state.clone(), s3.clone());
        async move {
            cost_ingest::handle(&state, &s3, event.payload)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
