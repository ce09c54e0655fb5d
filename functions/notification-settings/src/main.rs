use lambda_http::{Error, run};
use valdrix_shared::startup::Boot;
use valdrix_shared::state::Sealing;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let sealing = Sealing::new(boot.core().await?);
    let config = sealing.core.config.clone();
    run(valdrix_shared::http::layers(
        notification_settings::router(sealing),
        &config,
    ))
    .await
}
