use std::sync::Arc;

use lambda_http::{Error, run};
use valdrix_shared::audit::checkpoint::kms::KmsSigner;
use valdrix_shared::objects::S3ObjectStore;
use valdrix_shared::{startup, state::AppState, telemetry};

/// The private bucket packs are written to (template.yaml sets it).
const BUCKET_VAR: &str = "VALDRIX_PACK_BUCKET";

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    let bucket = std::env::var(BUCKET_VAR).map_err(|_| format!("{BUCKET_VAR} is not set"))?;
    let objects = Arc::new(S3ObjectStore::from_env(bucket).await);
    let signer = Arc::new(KmsSigner::from_env().await?);
    let probe = AppState::init(config).await?;
    let mut state =
        AppState::with_objects(probe.config.clone(), probe.store.clone(), Some(objects));
    Arc::get_mut(&mut state)
        .expect("a freshly built state has no other owner")
        .audit_signer = Some(signer);
    run(valdrix_shared::http::layers(
        compliance_export::router(state.clone()),
        &state.config,
    ))
    .await
}
