//! `valdrix ingest-costs --tenant <id> FILE`: what the cost-ingest function
//! does for one S3 object, for a local FOCUS CSV (plain or gzip). Prints the
//! report as JSON; exit 1 when the file is unreadable or any row was rejected.

use std::path::PathBuf;
use std::process::ExitCode;

use valdrix_shared::audit::Actor;
use valdrix_shared::ledger::ingest::ingest;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    tenant: String,
    /// A FOCUS cost export: CSV, plain or gzip.
    file: PathBuf,
}

pub async fn run(args: Args) -> ExitCode {
    let state = match crate::operator_state::from_env().await {
        Ok(state) => state,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    match valdrix_shared::tenancy::get_tenant(state.store.as_ref(), &args.tenant).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            eprintln!("error: tenant {} does not exist", args.tenant);
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: cannot read the tenant: {e}");
            return ExitCode::FAILURE;
        }
    }
    let file = match std::fs::File::open(&args.file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot open {}: {e}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let source = format!("file://{}", args.file.display());
    match ingest(
        &state.store,
        &state.audit,
        &args.tenant,
        &source,
        file,
        Actor::System,
    )
    .await
    {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("report serializes")
            );
            if report.rejected == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
