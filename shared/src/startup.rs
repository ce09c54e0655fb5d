//! The one cold-start entry point every function calls before serving.
//! "Startup fails by design": a broken contract aborts init with every
//! violation logged, so the function never answers a request.

use std::sync::Arc;

use crate::config::{self, RuntimeConfig, VarSet, Violation};

#[derive(thiserror::Error)]
#[error("runtime contract violated ({} violation(s)): {}", .0.len(), summary(.0))]
pub struct StartupError(pub Vec<Violation>);

// `main` returning this error prints its Debug form: keep it the readable one.
impl std::fmt::Debug for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn summary(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.variable.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Load the contract from the process env (and the runtime secret), validate it,
/// and log each violation as its own structured line before failing.
pub async fn load_runtime_config(function: &str) -> Result<Arc<RuntimeConfig>, StartupError> {
    match config::load(VarSet::from_process_env(), None, chrono::Utc::now()).await {
        Ok(cfg) => {
            tracing::info!(
                function,
                environment = %cfg.environment,
                "runtime contract validated"
            );
            // The waiver's deadline, as a metric and (inside 48 h) a warning.
            crate::waiver::watch(&cfg, chrono::Utc::now());
            Ok(Arc::new(cfg))
        }
        Err(violations) => {
            for v in &violations {
                tracing::error!(function, variable = %v.variable, rule = %v.rule, "runtime contract violation");
            }
            Err(StartupError(violations))
        }
    }
}
