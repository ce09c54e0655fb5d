//! The honest floor of a function that reads its secrets and talks to
//! DynamoDB (`infra/benches/coldstart.rs`): at init it loads the AWS
//! configuration, reads the secret `BENCH_SECRET_ID` names and builds a
//! DynamoDB client; each invocation reads one item of `BENCH_TABLE` (absent:
//! the smallest answer DynamoDB gives) and answers `{}`, as every function
//! reads the store at least once per request. Nothing of Valdrix's own.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secret_id = std::env::var("BENCH_SECRET_ID")?;
    let table = std::env::var("BENCH_TABLE")?;
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await?;
    let read = secret.secret_string().map_or(0, str::len);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let (dynamodb, table) = (&dynamodb, table.as_str());
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let item = dynamodb
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("floor".into()))
            .key("sk", AttributeValue::S("floor".into()))
            .send()
            .await?;
        Ok::<Value, Error>(json!({"secret_chars": read, "found": item.item().is_some()}))
    }))
    .await
}
