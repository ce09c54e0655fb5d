//! The compliance-export function.
//!
//! - `GET /api/v1/audit/compliance-pack` — owner only, pro or enterprise:
//!   the pack, exported by `exports::export_pack` ([`pack`]).
//! - `POST /api/v1/audit/compliance-pack/exports`, `GET …/exports/{id}` —
//!   owner only, pro or enterprise: export jobs, the pack built outside the
//!   request by `exports::run_job` ([`export_jobs`], [`queue`]).
//! - `GET /api/v1/audit/compliance-pack/download` — serves a local-directory
//!   object to the holder of a valid signed URL (`valdrix serve` only; S3
//!   URLs go to S3) ([`download`]).
//! - `POST /api/v1/admin/tenants/{tenant_id}/remediations` — `X-Admin-Key`:
//!   create or replace a remediation record (savings-proof input), recorded by
//!   `ledger::record` ([`remediation`]).

mod download;
mod export_jobs;
mod lambda;
mod pack;
pub mod queue;
mod remediation;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use valdrix_shared::exports::queue::JobQueue;
use valdrix_shared::objects::{DOWNLOAD_PATH, DynObjectStore, LocalDirStore, signing_key};
use valdrix_shared::state::{Core, PackSigner, PackStore};

pub use export_jobs::{EXPORT_PATH, EXPORTS_PATH};
pub use lambda::{Deployed, handle};
pub use pack::PACK_PATH;
pub use remediation::REMEDIATIONS_PATH;
pub use valdrix_shared::exports::URL_TTL;

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
    PackStore: FromRef<S>,
    PackSigner: FromRef<S>,
    JobQueue: FromRef<S>,
{
    Router::new()
        .route(PACK_PATH, get(pack::compliance_pack))
        .route(EXPORTS_PATH, post(export_jobs::create_export))
        .route(EXPORT_PATH, get(export_jobs::get_export))
        .route(DOWNLOAD_PATH, get(download::download))
        .route(REMEDIATIONS_PATH, post(remediation::put_remediation))
        .with_state(state)
}

/// The local-directory object store for `valdrix serve`; its URLs are signed
/// with a key derived from the config's ENCRYPTION_KEY and KDF_SALT.
pub fn local_object_store(
    dir: impl Into<std::path::PathBuf>,
    config: &valdrix_shared::config::RuntimeConfig,
) -> DynObjectStore {
    Arc::new(LocalDirStore::new(dir, signing_key(config)))
}
