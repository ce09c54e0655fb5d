//! Where finished packs go: an object store written as a stream and read back
//! through a short-lived signed URL. Two backends: S3 (multipart upload,
//! presigned GET) and a local directory for `valdrix serve` (URLs to a small
//! download route, signed with an HMAC key derived from the config's keys).

mod local;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "links")]
mod s3_links;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use local::{DOWNLOAD_PATH, LocalDirStore, signing_key};
#[cfg(feature = "s3")]
pub use s3::{MIN_PART_SIZE, S3ObjectStore};
#[cfg(feature = "links")]
pub use s3_links::S3Links;

/// Presigned URLs never live longer than this.
#[cfg(any(feature = "s3", feature = "links"))]
const MAX_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object store failed: {0}")]
    Backend(String),
    #[error("object not found")]
    NotFound,
    #[error("the link is invalid")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

/// A URL that grants a GET of one object until `expires_at`. A local store's
/// URL is a path (`/api/v1/...`); the HTTP layer makes it absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// An object being written; nothing is visible under its key until `finish`.
#[async_trait]
pub trait Upload: Send {
    async fn write(&mut self, data: &[u8]) -> Result<(), ObjectError>;
    /// Complete the object; returns its size in bytes.
    async fn finish(self: Box<Self>) -> Result<u64, ObjectError>;
    /// Drop what was written (best effort).
    async fn abort(self: Box<Self>);
}

/// Download links to stored objects: all the API needs of a pack store.
#[async_trait]
pub trait Links: Send + Sync {
    /// A GET URL for `key` that expires after `ttl`; `filename` is offered
    /// to the browser as the download's name.
    async fn signed_url(
        &self,
        key: &str,
        filename: &str,
        ttl: Duration,
    ) -> Result<SignedUrl, ObjectError>;
    /// The local-directory backend, which needs a route to serve its URLs.
    fn as_local(&self) -> Option<&LocalDirStore> {
        None
    }
}

/// A store objects are written to (and linked to).
#[async_trait]
pub trait ObjectStore: Links {
    async fn create(&self, key: &str, content_type: &str) -> Result<Box<dyn Upload>, ObjectError>;
}

pub type DynObjectStore = Arc<dyn ObjectStore>;
pub type DynLinks = Arc<dyn Links>;
