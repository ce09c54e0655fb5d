//! The daily passive evidence run. A function of its own (not a second
//! trigger on the HTTP evidence function) so each keeps one event shape.

use serde_json::Value;
use valdrix_shared::evidence::passive;
use valdrix_shared::state::SharedState;

pub async fn handle(state: &SharedState) -> Value {
    let report = passive::run_all(state).await;
    tracing::info!(
        tenants = report.tenants,
        failed = report.tenants_failed.len(),
        "passive evidence run done"
    );
    serde_json::to_value(report).unwrap_or_default()
}
