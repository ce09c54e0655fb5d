//! The one cold-start entry point every function calls before serving.
//! "Startup fails by design": a broken contract aborts init with every
//! violation logged, so the function never answers a request.

use std::sync::Arc;

use crate::config::{self, RuntimeConfig, VarSet, Violation};

#[derive(thiserror::Error)]
#[error("runtime contract violated ({} violation(s)): {}", .0.len(), summary(.0))]
pub struct StartupError(pub Vec<Violation>);

// `main` returning this error prints its Debug form: keep it the readable one.
impl std::fmt::Debug for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn summary(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.variable.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Load the contract from the process env (and the runtime secret), validate it,
/// and log each violation as its own structured line before failing.
pub async fn load_runtime_config(function: &str) -> Result<Arc<RuntimeConfig>, StartupError> {
    match config::load(VarSet::from_process_env(), None, chrono::Utc::now()).await {
        Ok(cfg) => {
            tracing::info!(
                function,
                environment = %cfg.environment,
                "runtime contract validated"
            );
            // The waiver's deadline, as a metric and (inside 48 h) a warning.
            crate::waiver::watch(&cfg, chrono::Utc::now());
            Ok(Arc::new(cfg))
        }
        Err(violations) => {
            for v in &violations {
                tracing::error!(function, variable = %v.variable, rule = %v.rule, "runtime contract violation");
            }
            let error = StartupError(violations);
            report_init_error(&error).await;
            Err(error)
        }
    }
}

/// The error type Lambda records for an init this contract refused.
pub const INIT_ERROR_TYPE: &str = "Runtime.ContractViolation";

/// Under a Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`), report a failed init
/// on its `/runtime/init/error` route, as a custom runtime must; Lambda then
/// records the reason instead of a bare exit. The message names variables and
/// rules, never a value. Best effort: the process exits either way.
pub async fn report_init_error(error: &StartupError) {
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        report_init_error_to(&api, error).await;
    }
}

async fn report_init_error_to(api: &str, error: &StartupError) {
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    let body = serde_json::json!({
        "errorType": INIT_ERROR_TYPE,
        "errorMessage": error.to_string(),
        "stackTrace": [],
    });
    let sent = match reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(client) => client
            .post(&url)
            .header("Lambda-Runtime-Function-Error-Type", INIT_ERROR_TYPE)
            .json(&body)
            .send()
            .await
            .map(|r| r.status()),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::error!(error = %e, "the init error could not be reported to the Runtime API");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Violation;
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn a_refused_contract_is_reported_on_the_init_error_route() {
        let api = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2018-06-01/runtime/init/error"))
            .and(header(
                "lambda-runtime-function-error-type",
                INIT_ERROR_TYPE,
            ))
            .and(body_partial_json(serde_json::json!({
                "errorType": INIT_ERROR_TYPE,
                "errorMessage": "runtime contract violated (1 violation(s)): KDF_SALT",
            })))
            .respond_with(ResponseTemplate::new(202))
            .expect(1)
            .mount(&api)
            .await;
        let error = StartupError(vec![Violation::new("KDF_SALT", "must be set")]);
        report_init_error_to(&api.address().to_string(), &error).await;
        api.verify().await;
    }
}
