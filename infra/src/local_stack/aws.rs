//! The emulators' AWS APIs, as the local stack's own clients see them: static
//! development credentials, one region, one endpoint per service.

use aws_sdk_dynamodb::config::{Credentials, Region};

pub const REGION: &str = "us-east-1";
/// moto's default account; resources' ARNs carry it.
pub const ACCOUNT: &str = "123456789012";
// DynamoDB Local accepts letters and digits only.
pub const ACCESS_KEY: &str = "AKIALOCALSTACK";
pub const SECRET_KEY: &str = "local-stack-secret";

/// Where each emulated service answers.
#[derive(Clone)]
pub struct Endpoints {
    pub dynamodb: String,
    /// moto: Secrets Manager, S3, SQS, KMS.
    pub moto: String,
    /// The local fake of CodeDeploy's lifecycle-hook API.
    pub codedeploy: String,
    /// The local stack's own Invoke API (a function invoking a function).
    pub lambda: String,
}

impl Endpoints {
    /// The variables that point an AWS SDK at these endpoints, as a Lambda's
    /// environment would carry credentials and region (the endpoints are the
    /// one local addition; the SDK reads `AWS_ENDPOINT_URL_<SERVICE>`).
    pub fn sdk_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", "LocalStackSessionToken"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &self.dynamodb),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &self.moto),
            ("AWS_ENDPOINT_URL_S3", &self.moto),
            ("AWS_ENDPOINT_URL_SQS", &self.moto),
            ("AWS_ENDPOINT_URL_KMS", &self.moto),
            ("AWS_ENDPOINT_URL_CODEDEPLOY", &self.codedeploy),
            ("AWS_ENDPOINT_URL_LAMBDA", &self.lambda),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::from_static(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "valdrix-local-stack",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// The clients the local stack itself uses.
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The audit signing key (AWS::KMS::Key).
    pub kms: aws_sdk_kms::Client,
}

impl Clients {
    pub async fn new(endpoints: &Endpoints) -> Self {
        let dynamo = sdk_config(&endpoints.dynamodb).await;
        let moto = sdk_config(&endpoints.moto).await;
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&dynamo),
            s3: aws_sdk_s3::Client::new(&moto),
            sqs: aws_sdk_sqs::Client::new(&moto),
            secrets: aws_sdk_secretsmanager::Client::new(&moto),
            kms: aws_sdk_kms::Client::new(&moto),
        }
    }
}
