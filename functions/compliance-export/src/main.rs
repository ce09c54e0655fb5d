use std::sync::Arc;

use lambda_http::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use valdrix_shared::startup::Boot;
use valdrix_shared::state::Exporting;

use compliance_export::Deployed;
use compliance_export::queue::LambdaQueue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let state = Deployed {
        exporting: Exporting {
            core: boot.core().await?,
            objects: boot.pack_store().await?,
            signer: boot.audit_signer().await?,
        },
        queue: Arc::new(LambdaQueue::new(aws_sdk_lambda::Client::new(
            boot.aws().await,
        ))),
    };
    let config = state.exporting.core.config.clone();
    let app = valdrix_shared::http::layers(compliance_export::router(state.clone()), &config);
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (state, app) = (state.clone(), app.clone());
        async move { compliance_export::handle(&state, app, event).await }
    }))
    .await
}
