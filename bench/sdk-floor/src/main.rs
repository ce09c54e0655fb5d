//! The honest floor of a function that reads its secrets and talks to
//! DynamoDB (`infra/benches/coldstart.rs`): at init it loads the AWS
//! configuration, reads the secret `BENCH_SECRET_ID` names and builds a
//! DynamoDB client; each invocation answers `{}`. Nothing of Valdrix's own.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secret_id = std::env::var("BENCH_SECRET_ID")?;
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await?;
    let read = secret.secret_string().map_or(0, str::len);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let (dynamodb, read) = (&dynamodb, read);
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let _ = dynamodb;
        Ok::<Value, Error>(json!({"secret_chars": read}))
    }))
    .await
}
