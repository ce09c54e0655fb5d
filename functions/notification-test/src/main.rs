use lambda_http::{Error, run};
use valdrix_shared::{startup, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    let state = AppState::init(config).await?;
    run(valdrix_shared::http::layers(
        notification_test::router(state.clone()),
        &state.config,
    ))
    .await
}
