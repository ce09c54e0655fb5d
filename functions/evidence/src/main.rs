use lambda_http::{Error, run};
use valdrix_shared::notify::Integrations;
use valdrix_shared::startup::Boot;
use valdrix_shared::state::{Notifying, Sealing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let sealing = Sealing::new(boot.core().await?);
    let state = Notifying::new(sealing, Integrations::from_config(boot.config()));
    let config = state.core.config.clone();
    run(valdrix_shared::http::layers(
        evidence::router(state),
        &config,
    ))
    .await
}
