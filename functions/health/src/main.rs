use lambda_http::{Error, run};
use valdrix_shared::{startup, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    run(health::router(config)).await
}
