//! `LambdaQueue`: an export job handed to this same function by Lambda's
//! asynchronous invocation (the worker's other home, `InProcess`, is in
//! `valdrix_shared::exports::queue`).

use std::sync::OnceLock;

use async_trait::async_trait;
use valdrix_shared::exports::queue::{Enqueue, JOB_EVENT, JobEvent};

/// `lambda:InvokeFunction` with `InvocationType=Event` on the function (and
/// qualifier) this environment was invoked as.
pub struct LambdaQueue {
    client: aws_sdk_lambda::Client,
    target: OnceLock<String>,
}

impl LambdaQueue {
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self {
            client,
            target: OnceLock::new(),
        }
    }

    /// The invoked ARN of the first event (every event of an environment
    /// names the same function version or alias).
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
            .ok_or("the function's own ARN is not known yet")?;
        let payload = serde_json::to_vec(&serde_json::json!({ JOB_EVENT: job }))
            .map_err(|e| e.to_string())?;
        self.client
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
