//! The state operator commands work on: the validated runtime contract from
//! the process env (and the runtime secret), and the store it names.

use valdrix_shared::config::{self, VarSet};
use valdrix_shared::state::{AppState, SharedState};
use valdrix_shared::store;

/// Fails with every contract violation listed, like a cold start would.
pub async fn from_env() -> Result<SharedState, String> {
    let config = config::load(VarSet::from_process_env(), None, chrono::Utc::now())
        .await
        .map_err(|violations| {
            let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
            format!("the runtime contract is broken:\n{}", lines.join("\n"))
        })?;
    let url = config.store.clone().ok_or("DATABASE_URL is not set")?;
    let store = store::open(&url).await.map_err(|e| e.to_string())?;
    Ok(AppState::new(config.into(), store))
}
