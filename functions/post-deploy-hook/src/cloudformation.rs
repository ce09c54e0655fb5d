//! The first create: CloudFormation calls the hook as the custom resource
//! `PostDeployChecksOnCreate` (CodeDeploy only runs on updates). The answer
//! is a PUT of a JSON document to the request's presigned URL; FAILED fails
//! the create. Delete always succeeds: checks never block removing a stack.

use serde::Deserialize;
use serde_json::json;

/// The physical id of the checks' resource.
pub const PHYSICAL_ID: &str = "valdrix-post-deploy-checks";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

impl Request {
    /// Whether `event` is a CloudFormation custom resource request.
    pub fn is(event: &serde_json::Value) -> bool {
        event.get("RequestType").is_some() && event.get("ResponseURL").is_some()
    }

    /// Send the outcome. `reason` is shown in the stack's events (no secret
    /// ever reaches it: check reasons never carry one).
    pub async fn respond(
        &self,
        http: &reqwest::Client,
        ok: bool,
        reason: &str,
    ) -> Result<(), String> {
        let body = json!({
            "Status": if ok { "SUCCESS" } else { "FAILED" },
            "Reason": reason.chars().take(1000).collect::<String>(),
            "PhysicalResourceId": self.physical_resource_id.as_deref().unwrap_or(PHYSICAL_ID),
            "StackId": self.stack_id,
            "RequestId": self.request_id,
            "LogicalResourceId": self.logical_resource_id,
        });
        // The presigned URL was signed without a content type: send none.
        let response = http
            .put(&self.response_url)
            .body(body.to_string())
            .send()
            .await
            // The URL carries a signature: never print it.
            .map_err(|e| {
                format!(
                    "the CloudFormation response could not be sent: {}",
                    e.without_url()
                )
            })?;
        match response.status().is_success() {
            true => Ok(()),
            false => Err(format!(
                "the CloudFormation response was refused: {}",
                response.status()
            )),
        }
    }
}
