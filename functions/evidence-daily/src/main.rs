use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let state = boot.notifying().await?;
    // The daily audit checkpoints are signed with the template's KMS key.
    let signer = boot.audit_signer().await?;
    let (state, signer) = (&state, signer.as_ref());
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(evidence_daily::handle(state, Some(signer), &event.payload).await)
    }))
    .await
}
