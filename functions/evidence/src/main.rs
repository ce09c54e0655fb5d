use lambda_http::{Error, run};
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let state = boot.notifying().await?;
    let config = state.core.config.clone();
    run(valdrix_shared::http::layers(
        evidence::router(state),
        &config,
    ))
    .await
}
