//! Exporting a compliance pack, whole: the request on record before anything
//! is built, the ZIP streamed into the object store, a signed URL, and the
//! completion (or the failure) on record. The one home of that use case; an
//! export job (jobs.rs) runs the same steps across invocations.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::options::PackOptions;
use super::pack::{PackError, PackRequest, Progress, build_pack};
use crate::audit::checkpoint::{CheckpointError, SignError, Signer};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent};
use crate::deadline::Deadline;
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
    pub method: String,
    /// The route the request came in on.
    pub path: String,
    pub options: PackOptions,
    pub now: DateTime<Utc>,
    /// When building must stop ([`ExportError::OutOfTime`]).
    pub deadline: Deadline,
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
    /// The deadline came first: the upload was aborted, nothing handed out.
    #[error("the pack was not complete before the deadline")]
    OutOfTime,
}

impl ExportError {
    /// Why, in words safe to record and show (no internal error text).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotRecorded(_) => "the audit log was unavailable",
            Self::Store(_) => "the store was unavailable",
            Self::Objects(_) => "the export store failed",
            Self::Signing(_) => "the audit signing key was unavailable",
            Self::Build(_) => "the pack could not be built",
            Self::OutOfTime => "the pack was not complete before the deadline",
        }
    }
}

impl From<PackError> for ExportError {
    fn from(e: PackError) -> Self {
        match e {
            PackError::Store(s) => Self::Store(s),
            PackError::Checkpoint(CheckpointError::Sign(e)) => Self::Signing(e),
            PackError::OutOfTime => Self::OutOfTime,
            other => Self::Build(other),
        }
    }
}

/// Build the pack `req` asks for into `objects` and sign its URL. `signer`
/// signs the pack's checkpoint and its SHA256SUMS. The request and its
/// outcome (completed, or failed with the reason) are on record.
pub async fn export_pack(
    store: &DynStore,
    audit: &AuditLog,
    objects: &dyn ObjectStore,
    signer: &dyn Signer,
    req: ExportRequest,
) -> Result<Exported, ExportError> {
    let run_id = uuid::Uuid::now_v7().to_string();
    record_request(audit, &req, &run_id).await?;
    let delivered = deliver(
        store,
        audit,
        objects,
        signer,
        &req,
        &run_id,
        &Progress::default(),
    )
    .await;
    let delivered = match delivered {
        Ok(d) => d,
        Err(e) => {
            record_outcome(audit, &req, &run_id, Err(&e)).await;
            return Err(e);
        }
    };
    let url = match objects
        .signed_url(&delivered.key, &delivered.filename, URL_TTL)
        .await
    {
        Ok(url) => url,
        Err(e) => {
            let e = ExportError::from(e);
            record_outcome(audit, &req, &run_id, Err(&e)).await;
            return Err(e);
        }
    };
    record_outcome(audit, &req, &run_id, Ok(&delivered)).await;
    Ok(Exported {
        run_id,
        url,
        bytes: delivered.bytes,
        sha256: delivered.sha256,
    })
}

/// A pack built and stored under `key`, its URL not yet signed.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub key: String,
    /// The download's name.
    pub filename: String,
    pub bytes: u64,
    pub sha256: String,
    /// SHA-256 of manifest.json (signed through SHA256SUMS).
    pub manifest_sha256: String,
    pub exports: Value,
}

/// The request on record, before anything is built.
pub(super) async fn record_request(
    audit: &AuditLog,
    req: &ExportRequest,
    run_id: &str,
) -> Result<(), ExportError> {
    audit
        .append(NewEvent {
            tenant_id: req.tenant_id.clone(),
            event_type: "audit.export_requested".into(),
            actor: req.actor.clone(),
            request_id: req.request_id.clone(),
            resource: Some(format!("compliance-pack/{run_id}")),
            success: true,
            details: json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "method": req.method,
                "path": req.path,
                "options": req.options,
            }),
        })
        .await
        .map(drop)
        .map_err(ExportError::NotRecorded)
}

/// Build the pack of run `run_id` into `objects` (an incomplete upload is
/// aborted, never left behind), stopping at `req.deadline`.
pub(super) async fn deliver(
    store: &DynStore,
    audit: &AuditLog,
    objects: &dyn ObjectStore,
    signer: &dyn Signer,
    req: &ExportRequest,
    run_id: &str,
    progress: &Progress,
) -> Result<Delivered, ExportError> {
    let key = format!("packs/{}/{run_id}.zip", safe_name(&req.tenant_id));
    let pack = PackRequest {
        run_id: run_id.to_owned(),
        tenant_id: req.tenant_id.clone(),
        tier: req.tier.clone(),
        actor: req.actor.clone(),
        environment: req.environment.clone(),
        generated_at: req.now,
        options: req.options.clone(),
        deadline: req.deadline,
        progress: progress.clone(),
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
    let mut manifest = serde_json::to_vec_pretty(&built.manifest).unwrap_or_default();
    manifest.push(b'\n');
    Ok(Delivered {
        key,
        filename: format!(
            "compliance-pack-{}-{}.zip",
            safe_name(&req.tenant_id),
            req.now.format("%Y%m%dT%H%M%SZ")
        ),
        bytes: built.bytes,
        sha256: built.sha256,
        manifest_sha256: hex::encode(Sha256::digest(&manifest)),
        exports: built.manifest["exports"].clone(),
    })
}

/// The run's completion or failure on record. The pack exists and is handed
/// out even when its completion cannot be recorded; the requested event
/// already names the run.
pub(super) async fn record_outcome(
    audit: &AuditLog,
    req: &ExportRequest,
    run_id: &str,
    outcome: Result<&Delivered, &ExportError>,
) {
    let (event_type, success, details) = match outcome {
        Ok(d) => (
            "audit.export_completed",
            true,
            json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "bytes": d.bytes,
                "sha256": d.sha256,
                "manifest_sha256": d.manifest_sha256,
                "exports": d.exports,
            }),
        ),
        Err(e) => (
            "audit.export_failed",
            false,
            json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "reason": e.reason(),
            }),
        ),
    };
    if let Err(e) = audit
        .append(NewEvent {
            tenant_id: req.tenant_id.clone(),
            event_type: event_type.into(),
            actor: req.actor.clone(),
            request_id: req.request_id.clone(),
            resource: Some(format!("compliance-pack/{run_id}")),
            success,
            details,
        })
        .await
    {
        tracing::error!(error = %e, event_type, "could not audit the export outcome");
    }
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
