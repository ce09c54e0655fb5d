//! The floor of `infra/benches/coldstart.rs`: the smallest lambda_runtime
//! function (answers `{}`), like lambda-perf's Rust hello world.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<Value, Error>(json!({}))
    }))
    .await
}
