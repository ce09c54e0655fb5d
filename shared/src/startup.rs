//! The one cold-start entry point every function calls before serving.
//! "Startup fails by design": a broken contract aborts init with every
//! violation logged, so the function never answers a request.

use std::sync::Arc;

use crate::aws::Aws;
use crate::config::{self, RuntimeConfig, VarSet, Violation};
#[cfg(feature = "dynamodb")]
use crate::state::Core;

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

/// A function's cold start: its logging, the AWS configuration (loaded once,
/// for the runtime secret and every client after it), the runtime contract,
/// then only the capabilities the function asks for. A broken contract, or a
/// capability the contract leaves without what it needs, ends the start:
/// every violation logged and reported to the Runtime API's init route.
pub struct Boot {
    function: &'static str,
    config: Arc<RuntimeConfig>,
    aws: Aws,
}

impl Boot {
    pub async fn start(function: &'static str) -> Result<Self, StartupError> {
        crate::telemetry::init();
        let aws = Aws::default();
        let now = chrono::Utc::now();
        match config::load_with(VarSet::from_process_env(), None, now, &aws).await {
            Ok(cfg) => {
                tracing::info!(
                    function,
                    environment = %cfg.environment,
                    "runtime contract validated"
                );
                // The waiver's deadline, as a metric and (inside 48 h) a warning.
                crate::waiver::watch(&cfg, now);
                Ok(Self {
                    function,
                    config: Arc::new(cfg),
                    aws,
                })
            }
            Err(violations) => Err(fail(function, violations).await),
        }
    }

    pub fn config(&self) -> &Arc<RuntimeConfig> {
        &self.config
    }

    /// The one AWS configuration, for the clients a function builds itself.
    pub async fn aws(&self) -> &aws_config::SdkConfig {
        self.aws.config().await
    }

    /// A capability's setting, which the contract leaves optional: its value,
    /// or the start refused with `rule`.
    #[cfg(any(feature = "s3", feature = "links", feature = "invoke", feature = "kms"))]
    async fn required<T: Clone>(
        &self,
        value: &Option<T>,
        variable: &str,
        rule: &str,
    ) -> Result<T, StartupError> {
        match value {
            Some(v) => Ok(v.clone()),
            None => Err(self.refuse(variable, rule).await),
        }
    }

    /// A violation found after the contract passed (a capability's setting).
    pub async fn refuse(&self, variable: &str, rule: &str) -> StartupError {
        fail(self.function, vec![Violation::new(variable, rule)]).await
    }

    /// The contract, the DynamoDB store it names and the audit log.
    #[cfg(feature = "dynamodb")]
    pub async fn core(&self) -> Result<Core, StartupError> {
        use crate::config::StoreUrl;
        let table = match &self.config.store {
            Some(StoreUrl::DynamoDb { table, .. }) => table.clone(),
            Some(_) => {
                return Err(self
                    .refuse(
                        config::vars::DATABASE_URL,
                        "must be a dynamodb:// store: this function is built with the DynamoDB backend only",
                    )
                    .await);
            }
            None => {
                return Err(self
                    .refuse(
                        config::vars::DATABASE_URL,
                        "must be set: this function reads the tenant store",
                    )
                    .await);
            }
        };
        let store = crate::store::DynamoStore::from_sdk_config(self.aws().await, table);
        Ok(Core::new(self.config.clone(), Arc::new(store)))
    }

    /// [`Boot::core`] and the keys of tenant secrets.
    #[cfg(feature = "dynamodb")]
    pub async fn sealing(&self) -> Result<crate::state::Sealing, StartupError> {
        Ok(crate::state::Sealing::new(self.core().await?))
    }

    /// [`Boot::sealing`] and the outbound client, from the contract.
    #[cfg(all(feature = "dynamodb", feature = "outbound"))]
    pub async fn notifying(&self) -> Result<crate::state::Notifying, StartupError> {
        let integrations = crate::notify::Integrations::from_config(&self.config);
        Ok(crate::state::Notifying::new(
            self.sealing().await?,
            integrations,
        ))
    }

    /// Where compliance packs go: `VALDRIX_PACK_BUCKET` on S3.
    #[cfg(feature = "s3")]
    pub async fn pack_store(&self) -> Result<crate::objects::DynObjectStore, StartupError> {
        let bucket = self
            .required(
                &self.config.pack_bucket,
                config::vars::VALDRIX_PACK_BUCKET,
                "must be set: this function writes compliance packs",
            )
            .await?;
        let client = aws_sdk_s3::Client::new(self.aws().await);
        Ok(Arc::new(crate::objects::S3ObjectStore::new(client, bucket)))
    }

    /// Where export jobs go: the worker `VALDRIX_PACK_WORKER` names, invoked
    /// asynchronously.
    #[cfg(feature = "invoke")]
    pub async fn pack_worker(
        &self,
    ) -> Result<Arc<crate::exports::lambda_queue::LambdaQueue>, StartupError> {
        let worker = self
            .required(
                &self.config.pack_worker,
                config::vars::VALDRIX_PACK_WORKER,
                "must be set: this function hands export jobs to the pack worker",
            )
            .await?;
        let config = aws_sdk_lambda::config::Builder::from(self.aws().await);
        Ok(Arc::new(crate::exports::lambda_queue::LambdaQueue::to(
            config, worker,
        )))
    }

    /// Export jobs handed on to this same function (the worker's next
    /// invocation).
    #[cfg(feature = "invoke")]
    pub async fn own_queue(&self) -> Arc<crate::exports::lambda_queue::LambdaQueue> {
        let config = aws_sdk_lambda::config::Builder::from(self.aws().await);
        Arc::new(crate::exports::lambda_queue::LambdaQueue::to_self(config))
    }

    /// The download links of packs in `VALDRIX_PACK_BUCKET` (S3 presigned
    /// GETs, signed with this function's credentials).
    #[cfg(feature = "links")]
    pub async fn pack_links(&self) -> Result<crate::objects::DynLinks, StartupError> {
        let bucket = self
            .required(
                &self.config.pack_bucket,
                config::vars::VALDRIX_PACK_BUCKET,
                "must be set: this function links to compliance packs",
            )
            .await?;
        match crate::objects::S3Links::from_sdk_config(self.aws().await, bucket) {
            Ok(links) => Ok(Arc::new(links)),
            Err(why) => Err(self.refuse("AWS_REGION", &why).await),
        }
    }

    /// The audit checkpoints' signer: `VALDRIX_AUDIT_SIGNING_KEY` on KMS.
    #[cfg(feature = "kms")]
    pub async fn audit_signer(&self) -> Result<crate::audit::checkpoint::DynSigner, StartupError> {
        let key = self
            .required(
                &self.config.audit_signing_key,
                config::vars::VALDRIX_AUDIT_SIGNING_KEY,
                "must be set: this function signs audit checkpoints",
            )
            .await?;
        let client = aws_sdk_kms::Client::new(self.aws().await);
        Ok(Arc::new(crate::audit::checkpoint::kms::KmsSigner::new(
            client, key,
        )))
    }
}

async fn fail(function: &str, violations: Vec<Violation>) -> StartupError {
    for v in &violations {
        tracing::error!(function, variable = %v.variable, rule = %v.rule, "runtime contract violation");
    }
    let error = StartupError(violations);
    report_init_error(&error).await;
    error
}

/// The error type Lambda records for an init this contract refused.
pub const INIT_ERROR_TYPE: &str = "Runtime.ContractViolation";

/// Under a Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`), report a failed init
/// on its `/runtime/init/error` route, as a custom runtime must; Lambda then
/// records the reason instead of a bare exit. The message names variables and
/// rules, never a value. Best effort: the process exits either way.
pub async fn report_init_error(error: &StartupError) {
    if let Some(api) = config::process::runtime_api() {
        report_init_error_to(&api, error).await;
    }
}

async fn report_init_error_to(api: &str, error: &StartupError) {
    let body = serde_json::json!({
        "errorType": INIT_ERROR_TYPE,
        "errorMessage": error.to_string(),
        "stackTrace": [],
    });
    // The runtime's own client for its own API (no TLS, no proxy).
    let sent = async {
        let uri: http::Uri = format!("http://{api}").parse()?;
        let client = lambda_runtime_api_client::PooledClient::builder()
            .with_endpoint(uri)
            .build();
        let request = http::Request::post("/2018-06-01/runtime/init/error")
            .header("Lambda-Runtime-Function-Error-Type", INIT_ERROR_TYPE)
            .header("content-type", "application/json")
            .body(lambda_runtime_api_client::body::Body::from(
                body.to_string(),
            ))?;
        let answer = tokio::time::timeout(std::time::Duration::from_secs(2), client.call(request))
            .await
            .map_err(|_| "timed out")??;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answer.status())
    };
    if let Err(e) = sent.await {
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
