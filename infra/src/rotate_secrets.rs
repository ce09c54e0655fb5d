//! `valdrix rotate-secrets`: re-seal every tenant's integration secrets under
//! the current `ENCRYPTION_KEY` (old keys stay in `ENCRYPTION_KEY_FALLBACKS`
//! until this reports no failure).

use std::process::ExitCode;

use valdrix_shared::settings::rotate_all;

pub async fn run() -> ExitCode {
    let state = match crate::operator_state::from_env().await {
        Ok(state) => state,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    match rotate_all(state.store.as_ref(), &state.audit, &state.keys).await {
        Ok(report) => {
            println!(
                "rotate-secrets: tenants={} resealed={} already_current={} failed={}",
                report.tenants,
                report.secrets_resealed,
                report.secrets_current,
                report.tenants_failed.len()
            );
            for tenant in &report.tenants_failed {
                eprintln!("tenant {tenant}: secrets could not be opened with any configured key");
            }
            if report.tenants_failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: rotate-secrets failed: {e}");
            ExitCode::FAILURE
        }
    }
}
