use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use valdrix_shared::exports::queue::Worker;
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let core = boot.core().await?;
    let worker = Worker {
        store: core.store.clone(),
        audit: core.audit.clone(),
        objects: Some(boot.pack_store().await?),
        signer: Some(boot.audit_signer().await?),
    };
    let queue = boot.own_queue().await;
    run(service_fn(move |event: LambdaEvent<Value>| {
        let (worker, queue) = (worker.clone(), queue.clone());
        async move { compliance_pack_worker::handle(&worker, queue.as_ref(), event).await }
    }))
    .await
}
