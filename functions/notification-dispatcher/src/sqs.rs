//! The dead-letter queue in AWS: one SQS message per dead delivery.

use async_trait::async_trait;
use valdrix_shared::policy::Delivery;
use valdrix_shared::policy::dispatch::DeadLetters;

pub struct SqsDeadLetters {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn publish(&self, delivery: &Delivery) -> Result<(), String> {
        let body = serde_json::to_string(delivery).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                format!(
                    "SQS send failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })
    }
}
