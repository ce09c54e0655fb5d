//! `valdrix verify-audit --tenant <id>`: walk a tenant's audit chain and
//! print the verification as JSON; exit 1 when a link is broken.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    tenant: String,
}

pub async fn run(args: Args) -> ExitCode {
    let state = match crate::operator_state::from_env().await {
        Ok(state) => state,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    match state.audit.verify(&args.tenant).await {
        Ok(verification) => {
            println!(
                "{}",
                serde_json::to_string(&verification).expect("verification serializes")
            );
            if verification.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: cannot read the audit chain: {e}");
            ExitCode::FAILURE
        }
    }
}
