use lambda_http::{Error, run};
use valdrix_shared::startup::Boot;
use valdrix_shared::state::Exporting;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let state = Exporting {
        core: boot.core().await?,
        objects: boot.pack_store().await?,
        signer: boot.audit_signer().await?,
    };
    let config = state.core.config.clone();
    run(valdrix_shared::http::layers(
        compliance_export::router(state),
        &config,
    ))
    .await
}
