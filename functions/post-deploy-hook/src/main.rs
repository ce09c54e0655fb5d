// The SDK and lambda_runtime futures nest deep enough to need a higher limit.
#![recursion_limit = "256"]

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use post_deploy_hook::cloudformation::Request;
use post_deploy_hook::{Checks, HookReport, Timeouts, handle, handle_create};
use serde_json::Value;
use std::sync::Arc;

use valdrix_shared::aws::Aws;
use valdrix_shared::config::VarSet;
use valdrix_shared::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // No runtime contract at init: a broken one is this hook's failed check.
    // One AWS configuration for the secret's reads and both clients.
    let aws = Arc::new(Aws::default());
    let codedeploy = aws_sdk_codedeploy::Client::new(aws.config().await);
    let lambda = aws_sdk_lambda::Client::new(aws.config().await);
    valdrix_shared::tls::install_provider();
    let http = reqwest::Client::builder()
        .user_agent(concat!(
            "valdrix-post-deploy-hook/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?;
    let (codedeploy, lambda, http, aws) = (&codedeploy, &lambda, &http, &aws);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let checks = Checks::from_env(
            VarSet::from_process_env(),
            http.clone(),
            Timeouts::default(),
        )
        .with_lambda(lambda.clone())
        .with_aws(aws.clone())
        .with_invocation_deadline(event.context.deadline);
        // CloudFormation (the first create) or CodeDeploy (every deployment).
        let report: HookReport = if Request::is(&event.payload) {
            let request: Request = serde_json::from_value(event.payload)?;
            handle_create(&request, &checks).await?
        } else {
            let lifecycle: CodeDeployLifecycleEvent = serde_json::from_value(event.payload)?;
            handle(&lifecycle, &checks, codedeploy).await?
        };
        Ok::<HookReport, Error>(report)
    }))
    .await
}
