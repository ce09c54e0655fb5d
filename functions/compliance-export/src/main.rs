use lambda_http::{Error, run};
use valdrix_shared::startup::Boot;

use compliance_export::Deployed;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let state = Deployed {
        core: boot.core().await?,
        links: boot.pack_links().await?,
        queue: boot.pack_worker().await?,
    };
    let config = state.core.config.clone();
    run(valdrix_shared::http::layers(
        compliance_export::router(state),
        &config,
    ))
    .await
}
