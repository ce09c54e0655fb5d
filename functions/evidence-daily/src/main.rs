use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use valdrix_shared::{startup, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    let state = AppState::init(config).await?;
    let state = &state;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(evidence_daily::handle(state, &event.payload).await)
    }))
    .await
}
