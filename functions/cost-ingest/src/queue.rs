//! The function's own queue: a file's next step. The message names the file
//! only; where the step begins is in the store, so a message delivered twice
//! or late finds the file where it is.

use serde::{Deserialize, Serialize};

use crate::Failure;

/// One file whose ingest continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    pub bucket: String,
    /// Decoded (not URL-encoded as in S3 events).
    pub key: String,
    /// The version being ingested; `None` when the event did not say.
    pub etag: Option<String>,
    /// The step this message is for (0: the S3 event's first).
    #[serde(default)]
    pub step: u32,
}

pub struct IngestQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl IngestQueue {
    pub async fn send(&self, file: &Continuation) -> Result<(), Failure> {
        let body = serde_json::to_string(file).map_err(|e| Failure::Queue(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(drop)
            .map_err(|e| Failure::Queue(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))
    }
}
