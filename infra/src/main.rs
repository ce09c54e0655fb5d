//! `valdrix`: the operator CLI. Each subcommand lives in its own module; this
//! file only parses arguments and maps outcomes to exit codes.

mod demo;
mod dev_env;
mod http_front;
mod ingest_costs;
mod local_stack;
mod migrate;
mod migrate_cmd;
mod operator_state;
mod redrive;
mod rotate_secrets;
mod routes;
mod runtime_secret;
mod sandbox;
mod serve;
mod smoke;
mod stack_outputs;
mod validate_env;
mod verify_chain;
mod verify_pack;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "valdrix", version, about = "Operate the Valdrix control plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the runtime contract (the checklist's deployment step 3).
    ValidateRuntimeEnv(validate_env::Args),
    /// Write the runtime secret's JSON from an env file that passes the contract.
    RuntimeSecret(runtime_secret::Args),
    /// Run every function locally on one port with the embedded store.
    Serve(serve::Args),
    /// Create the table where missing and apply the data migrations.
    Migrate(migrate_cmd::Args),
    /// Redrive the dead deliveries of the stack's dead-letter queue.
    RedriveDeliveries(redrive::Args),
    /// Re-seal every tenant's integration secrets under the current key.
    RotateSecrets,
    /// Verify a tenant's whole audit chain, range by range; exit 1 naming the first bad seq.
    #[command(visible_alias = "verify-audit")]
    VerifyChain(verify_chain::Args),
    /// Check a compliance pack offline: files, chain, signed checkpoints.
    VerifyPack(verify_pack::Args),
    /// Run the checklist's post-deploy smoke tests against a base URL.
    Smoke(smoke::Args),
    /// Ingest a local FOCUS cost file (CSV or gzip) into a tenant's ledger.
    IngestCosts(ingest_costs::Args),
    /// Run the deployed shape locally: every function binary behind template.yaml's
    /// routes and event sources, on DynamoDB Local and moto.
    LocalStack(local_stack::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    // Before any HTTP client (smoke, the local stack, the sandbox).
    valdrix_shared::tls::install_provider();
    let cli = Cli::parse();
    match cli.command {
        Command::ValidateRuntimeEnv(args) => validate_env::run(args).await,
        Command::RuntimeSecret(args) => runtime_secret::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(args) => migrate_cmd::run(args).await,
        Command::RedriveDeliveries(args) => redrive::run(args).await,
        Command::RotateSecrets => rotate_secrets::run().await,
        Command::VerifyChain(args) => verify_chain::run(args).await,
        Command::VerifyPack(args) => verify_pack::run(args),
        Command::Smoke(args) => smoke::run(args).await,
        Command::IngestCosts(args) => ingest_costs::run(args).await,
        Command::LocalStack(args) => local_stack::run(args).await,
    }
}
