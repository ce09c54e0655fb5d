// The SDK and lambda_runtime futures nest deep enough to need a higher limit.
#![recursion_limit = "256"]

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use post_deploy_hook::{Checks, Timeouts, handle};
use valdrix_shared::config::VarSet;
use valdrix_shared::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // No runtime contract at init: a broken one is this hook's failed check.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let codedeploy = aws_sdk_codedeploy::Client::new(&sdk);
    let http = reqwest::Client::builder()
        .user_agent(concat!(
            "valdrix-post-deploy-hook/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?;
    let (codedeploy, http) = (&codedeploy, &http);
    run(service_fn(
        move |event: LambdaEvent<CodeDeployLifecycleEvent>| async move {
            let checks = Checks::from_env(
                VarSet::from_process_env(),
                http.clone(),
                Timeouts::default(),
            )
            .with_invocation_deadline(event.context.deadline);
            handle(&event.payload, &checks, codedeploy).await
        },
    ))
    .await
}
