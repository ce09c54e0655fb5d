//! The compliance-export function.
//!
//! - `GET /api/v1/audit/compliance-pack` — owner only, pro or enterprise:
//!   the pack, as an export job awaited within the API's budget ([`pack`]).
//! - `POST /api/v1/audit/compliance-pack/exports`, `GET …/exports/{id}` —
//!   owner only, pro or enterprise: export jobs, created by `exports::jobs`
//!   and built outside the request by the compliance-pack-worker function
//!   (`exports::run_job`) ([`export_jobs`]).
//! - `GET /api/v1/audit/compliance-pack/download` — serves a local-directory
//!   object to the holder of a valid signed URL (`valdrix serve` only; S3
//!   URLs go to S3) ([`download`]).
//! - `POST /api/v1/admin/tenants/{tenant_id}/remediations` — `X-Admin-Key`:
//!   create or replace a remediation record (savings-proof input), recorded by
//!   `ledger::record` ([`remediation`]).

mod deployed;
mod download;
mod export_jobs;
mod pack;
mod remediation;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use valdrix_shared::exports::queue::JobQueue;
use valdrix_shared::objects::{DOWNLOAD_PATH, DynObjectStore, LocalDirStore, signing_key};
use valdrix_shared::state::{Core, PackLinks};

pub use deployed::Deployed;
pub use export_jobs::{EXPORT_PATH, EXPORTS_PATH};
pub use pack::PACK_PATH;
pub use remediation::REMEDIATIONS_PATH;
pub use valdrix_shared::exports::URL_TTL;

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
    PackLinks: FromRef<S>,
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
