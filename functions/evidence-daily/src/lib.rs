//! The daily passive evidence run. A function of its own (not a second
//! trigger on the HTTP evidence function) so each keeps one event shape.
//! After it, the daily audit checkpoints ([`checkpoints`]): each tenant run
//! whose chain moved gets its head signed.
//!
//! The schedule's event runs every tenant. The post-deploy hook's check of a
//! new version sends `{"source": "valdrix.post-deploy-hook", "detail":
//! {"tenant_id": ...}}` to run one tenant (the smoke tenant) through the
//! same path.

pub mod checkpoints;

use serde_json::Value;
use valdrix_shared::audit::checkpoint::Signer;
use valdrix_shared::evidence::passive;
use valdrix_shared::state::Notifying;

/// The event source of the hook's single-tenant check.
pub const HOOK_SOURCE: &str = "valdrix.post-deploy-hook";

/// The passive run, then (given a signer) the daily checkpoints.
pub async fn handle(state: &Notifying, signer: Option<&dyn Signer>, event: &Value) -> Value {
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
    let mut answer = serde_json::to_value(report).unwrap_or_default();
    if let Some(signer) = signer {
        let tenants = match one {
            Some(tenant_id) => Ok(vec![tenant_id.to_owned()]),
            None => checkpoints::all_tenants(&state.core.audit).await,
        };
        let signed = match tenants {
            Ok(tenants) => checkpoints::sign_moved(&state.core.audit, signer, &tenants).await,
            Err(e) => {
                tracing::error!(error = %e, "daily audit checkpoints: cannot list tenants");
                checkpoints::CheckpointReport {
                    signed: 0,
                    failed: vec!["*".into()],
                }
            }
        };
        tracing::info!(
            signed = signed.signed,
            failed = signed.failed.len(),
            "daily audit checkpoints done"
        );
        answer["checkpoints"] = serde_json::to_value(signed).unwrap_or_default();
    }
    answer
}
