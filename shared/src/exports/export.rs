//! Exporting a compliance pack, whole: the request on record before anything
//! is built, the ZIP streamed into the object store, a signed URL, and the
//! completion on record. The one home of that use case.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::options::PackOptions;
use super::pack::{PackError, PackRequest, build_pack};
use crate::audit::checkpoint::{CheckpointError, SignError, Signer};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent};
use crate::metrics::Unit;
use crate::objects::{ObjectError, ObjectStore, SignedUrl};
use crate::store::{DynStore, StoreError};

/// How long a pack's URL works.
pub const URL_TTL: Duration = Duration::from_secs(300);

/// Who asks for which pack, and from where (for the audit record).
pub struct ExportRequest {
    pub tenant_id: String,
    pub tier: String,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub environment: String,
    /// The route the request came in on.
    pub path: String,
    pub options: PackOptions,
    pub now: DateTime<Utc>,
}

/// A finished pack: where to fetch it, and what it holds.
pub struct Exported {
    pub run_id: String,
    pub url: SignedUrl,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request could not be put on record: nothing was exported.
    #[error("the audit log is unavailable; nothing was exported")]
    NotRecorded(#[source] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the export store failed: {0}")]
    Objects(#[from] ObjectError),
    /// The pack could not be signed: nothing was handed out.
    #[error("the audit signing key is unavailable; nothing was exported")]
    Signing(#[source] SignError),
    #[error("the pack could not be built: {0}")]
    Build(PackError),
}

impl From<PackError> for ExportError {
    fn from(e: PackError) -> Self {
        match e {
            PackError::Store(s) => Self::Store(s),
            PackError::Checkpoint(CheckpointError::Sign(e)) => Self::Signing(e),
            other => Self::Build(other),
        }
    }
}

/// Build the pack `req` asks for into `objects` and sign its URL. `signer`
/// signs the pack's checkpoint and its SHA256SUMS.
pub async fn export_pack(
    store: &DynStore,
    audit: &AuditLog,
    objects: &dyn ObjectStore,
    signer: &dyn Signer,
    req: ExportRequest,
) -> Result<Exported, ExportError> {
    let run_id = uuid::Uuid::now_v7().to_string();
    let resource = Some(format!("compliance-pack/{run_id}"));
    // The request is on record before anything is built.
    audit
        .append(NewEvent {
            tenant_id: req.tenant_id.clone(),
            event_type: "audit.export_requested".into(),
            actor: req.actor.clone(),
            request_id: req.request_id.clone(),
            resource: resource.clone(),
            success: true,
            details: json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "method": "GET",
                "path": req.path,
                "options": req.options,
            }),
        })
        .await
        .map_err(ExportError::NotRecorded)?;

    let key = format!("packs/{}/{run_id}.zip", safe_name(&req.tenant_id));
    let pack = PackRequest {
        run_id: run_id.clone(),
        tenant_id: req.tenant_id.clone(),
        tier: req.tier,
        actor: req.actor.clone(),
        environment: req.environment,
        generated_at: req.now,
        options: req.options,
    };
    let mut upload = objects.create(&key, "application/zip").await?;
    let built = match build_pack(store, audit, signer, &pack, upload.as_mut()).await {
        Ok(built) => built,
        Err(e) => {
            upload.abort().await;
            return Err(e.into());
        }
    };
    upload.finish().await?;
    crate::metrics::emit(
        "compliance-export",
        &[
            ("PackExports", 1.0, Unit::Count),
            ("PackExportBytes", built.bytes as f64, Unit::Bytes),
        ],
        crate::metrics::props([("run_id", json!(run_id))]),
    );

    let filename = format!(
        "compliance-pack-{}-{}.zip",
        safe_name(&req.tenant_id),
        req.now.format("%Y%m%dT%H%M%SZ")
    );
    let url = objects.signed_url(&key, &filename, URL_TTL).await?;
    // The pack exists and is handed out even when its completion cannot be
    // recorded; the requested event already names the run.
    if let Err(e) = audit
        .append(NewEvent {
            tenant_id: req.tenant_id,
            event_type: "audit.export_completed".into(),
            actor: req.actor,
            request_id: req.request_id,
            resource,
            success: true,
            details: json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "bytes": built.bytes,
                "sha256": built.sha256,
                "exports": built.manifest["exports"],
            }),
        })
        .await
    {
        tracing::error!(error = %e, "could not audit the export completion");
    }
    Ok(Exported {
        run_id,
        url,
        bytes: built.bytes,
        sha256: built.sha256,
    })
}

/// A tenant id as an object key and file name part.
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
