use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use valdrix_shared::audit::checkpoint::kms::KmsSigner;
use valdrix_shared::{startup, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    let mut state = AppState::init(config).await?;
    // The daily audit checkpoints are signed with the template's KMS key.
    std::sync::Arc::get_mut(&mut state)
        .expect("a freshly built state has no other owner")
        .audit_signer = Some(std::sync::Arc::new(KmsSigner::from_env().await?));
    let state = &state;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(evidence_daily::handle(state, &event.payload).await)
    }))
    .await
}
