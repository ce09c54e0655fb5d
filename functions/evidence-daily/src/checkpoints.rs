//! The daily floor of the audit checkpoints: after its evidence run, each
//! tenant whose chain moved since its last checkpoint gets its head signed,
//! so no event waits more than a day for a signature (`every N events` is
//! the dispatcher's sweep; docs/audit_chain.md).

use chrono::Utc;
use serde::Serialize;
use valdrix_shared::audit::AuditLog;
use valdrix_shared::audit::checkpoint::{self, Signer};

#[derive(Debug, Default, Serialize)]
pub struct CheckpointReport {
    pub signed: u64,
    pub failed: Vec<String>,
}

/// Sign the head of each of `tenants` that moved past its last checkpoint.
pub async fn sign_moved(
    audit: &AuditLog,
    signer: &dyn Signer,
    tenants: &[String],
) -> CheckpointReport {
    let mut report = CheckpointReport::default();
    for tenant_id in tenants {
        let outcome = match checkpoint::is_due(audit, tenant_id, 1).await {
            Ok(true) => checkpoint::sign_head(audit, signer, tenant_id, Utc::now())
                .await
                .map(|c| c.is_some()),
            Ok(false) => Ok(false),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(signed) => report.signed += u64::from(signed),
            Err(e) => {
                tracing::error!(tenant_id, error = %e, "daily audit checkpoint failed");
                report.failed.push(tenant_id.clone());
            }
        }
    }
    report
}
