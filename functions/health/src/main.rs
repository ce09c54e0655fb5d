use lambda_http::{Error, run};
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let core = boot.core().await?;
    run(valdrix_shared::http::layers(
        health::router(core.clone()),
        &core.config,
    ))
    .await
}
