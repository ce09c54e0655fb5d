//! The local-directory object store of `valdrix serve`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use super::{Links, ObjectError, ObjectStore, SignedUrl, Upload};
use crate::config::RuntimeConfig;

/// The route that serves signed local URLs: `?key=&expires=&sig=`.
pub const DOWNLOAD_PATH: &str = "/api/v1/audit/compliance-pack/download";

/// The URL-signing key: HKDF-SHA256(ENCRYPTION_KEY, salt = KDF_SALT,
/// info = "valdrix/object-url/v1"), so it rotates with the encryption key and
/// is never the key itself.
pub fn signing_key(config: &RuntimeConfig) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(
        Some(config.kdf_salt.expose_secret().as_slice()),
        config.encryption_key.expose_secret().as_bytes(),
    );
    let mut key = [0u8; 32];
    hk.expand(b"valdrix/object-url/v1", &mut key)
        .expect("32 bytes is a valid HKDF length");
    key
}

pub struct LocalDirStore {
    dir: PathBuf,
    key: [u8; 32],
}

impl LocalDirStore {
    pub fn new(dir: impl Into<PathBuf>, key: [u8; 32]) -> Self {
        Self {
            dir: dir.into(),
            key,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sign(&self, key: &str, expires: i64, filename: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(filename.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The file a signed URL grants, or why it does not.
    pub fn resolve(
        &self,
        key: &str,
        expires: i64,
        filename: &str,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<PathBuf, ObjectError> {
        let expected = self.sign(key, expires, filename);
        let ok: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), sig.as_bytes()).into();
        if !ok {
            return Err(ObjectError::BadSignature);
        }
        if now.timestamp() > expires {
            return Err(ObjectError::Expired);
        }
        let path = self.path(key)?;
        if !path.is_file() {
            return Err(ObjectError::NotFound);
        }
        Ok(path)
    }

    fn path(&self, key: &str) -> Result<PathBuf, ObjectError> {
        let safe = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            });
        if !safe {
            return Err(ObjectError::Backend(format!("unsafe object key {key:?}")));
        }
        Ok(self.dir.join(key))
    }
}

struct LocalUpload {
    tmp: PathBuf,
    path: PathBuf,
    file: tokio::fs::File,
    bytes: u64,
}

#[async_trait]
impl Upload for LocalUpload {
    async fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        self.file.write_all(data).await.map_err(backend)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, ObjectError> {
        self.file.flush().await.map_err(backend)?;
        self.file.sync_all().await.map_err(backend)?;
        tokio::fs::rename(&self.tmp, &self.path)
            .await
            .map_err(backend)?;
        Ok(self.bytes)
    }

    async fn abort(self: Box<Self>) {
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

fn backend(e: std::io::Error) -> ObjectError {
    ObjectError::Backend(e.to_string())
}

#[async_trait]
impl ObjectStore for LocalDirStore {
    async fn create(&self, key: &str, _content_type: &str) -> Result<Box<dyn Upload>, ObjectError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(backend)?;
        }
        let tmp = path.with_extension("part");
        let file = tokio::fs::File::create(&tmp).await.map_err(backend)?;
        Ok(Box::new(LocalUpload {
            tmp,
            path,
            file,
            bytes: 0,
        }))
    }
}

#[async_trait]
impl Links for LocalDirStore {
    async fn signed_url(
        &self,
        key: &str,
        filename: &str,
        ttl: Duration,
    ) -> Result<SignedUrl, ObjectError> {
        self.path(key)?;
        let expires_at = Utc::now()
            + chrono::Duration::from_std(ttl).map_err(|e| ObjectError::Backend(e.to_string()))?;
        let expires = expires_at.timestamp();
        let sig = self.sign(key, expires, filename);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("key", key)
            .append_pair("expires", &expires.to_string())
            .append_pair("filename", filename)
            .append_pair("sig", &sig)
            .finish();
        Ok(SignedUrl {
            url: format!("{DOWNLOAD_PATH}?{query}"),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at),
        })
    }

    fn as_local(&self) -> Option<&LocalDirStore> {
        Some(self)
    }
}
