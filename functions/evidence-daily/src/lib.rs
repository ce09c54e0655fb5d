//! The daily passive evidence run. A function of its own (not a second
//! trigger on the HTTP evidence function) so each keeps one event shape.
//!
//! The schedule's event runs every tenant. The post-deploy hook's check of a
//! new version sends `{"source": "valdrix.post-deploy-hook", "detail":
//! {"tenant_id": ...}}` to run one tenant (the smoke tenant) through the
//! same path.

use serde_json::Value;
use valdrix_shared::evidence::passive;
use valdrix_shared::state::Notifying;

/// The event source of the hook's single-tenant check.
pub const HOOK_SOURCE: &str = "valdrix.post-deploy-hook";

pub async fn handle(state: &Notifying, event: &Value) -> Value {
    let one = (event.get("source").and_then(Value::as_str) == Some(HOOK_SOURCE))
        .then(|| event.pointer("/detail/tenant_id").and_then(Value::as_str))
        .flatten();
    let report = match one {
        Some(tenant_id) => passive::run_one(state, tenant_id).await,
        None => passive::run_all(state).await,
    };
    tracing::info!(
        tenants = report.tenants,
        failed = report.tenants_failed.len(),
        "passive evidence run done"
    );
    serde_json::to_value(report).unwrap_or_default()
}
