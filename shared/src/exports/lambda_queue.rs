//! [`LambdaQueue`]: an export job handed to the pack worker by Lambda's
//! asynchronous invocation (the worker's other home, [`super::queue::InProcess`],
//! is `valdrix serve`'s and the tests').

use std::sync::OnceLock;

use async_trait::async_trait;

use super::queue::{Enqueue, JOB_EVENT, JobEvent};

/// `lambda:InvokeFunction` with `InvocationType=Event` on one function: the
/// worker's alias the contract names (the API function), or the function
/// this environment was invoked as (the worker handing a job on to itself).
///
/// The Lambda client is built at the first hand-over, not at cold start: most
/// of the API function's requests hand nothing over.
pub struct LambdaQueue {
    config: aws_sdk_lambda::config::Builder,
    client: OnceLock<aws_sdk_lambda::Client>,
    target: OnceLock<String>,
}

impl LambdaQueue {
    /// Jobs go to `function` (a function or alias ARN, or a name).
    pub fn to(config: aws_sdk_lambda::config::Builder, function: String) -> Self {
        Self {
            config,
            client: OnceLock::new(),
            target: OnceLock::from(function),
        }
    }

    /// Jobs go to the function this environment runs as; [`LambdaQueue::learn`]
    /// it from the first event.
    pub fn to_self(config: aws_sdk_lambda::config::Builder) -> Self {
        Self {
            config,
            client: OnceLock::new(),
            target: OnceLock::new(),
        }
    }

    fn client(&self) -> &aws_sdk_lambda::Client {
        self.client
            .get_or_init(|| aws_sdk_lambda::Client::from_conf(self.config.clone().build()))
    }

    /// The invoked ARN of an event (every event of an environment names the
    /// same function version or alias). A fixed target stays as it is.
    pub fn learn(&self, invoked_function_arn: &str) {
        if !invoked_function_arn.is_empty() {
            let _ = self.target.set(invoked_function_arn.to_owned());
        }
    }
}

#[async_trait]
impl Enqueue for LambdaQueue {
    async fn enqueue(&self, job: &JobEvent) -> Result<(), String> {
        let target = self
            .target
            .get()
            .ok_or("the worker function is not known yet")?;
        let payload = serde_json::to_vec(&serde_json::json!({ JOB_EVENT: job }))
            .map_err(|e| e.to_string())?;
        self.client()
            .invoke()
            .function_name(target)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())?;
        Ok(())
    }
}
