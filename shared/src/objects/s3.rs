//! S3: multipart upload (every part but the last ≥ 5 MiB) and presigned GETs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use chrono::Utc;

use super::{Links, MAX_TTL, ObjectError, ObjectStore, SignedUrl, Upload};

/// S3's smallest part (except the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

#[derive(Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    part_size: usize,
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            part_size: 8 * 1024 * 1024,
        }
    }

    /// The client from the Lambda environment (role credentials, region).
    pub async fn from_env(bucket: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), bucket)
    }

    /// Parts of this size (raised to [`MIN_PART_SIZE`]).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn backend(e: impl std::fmt::Display) -> ObjectError {
    ObjectError::Backend(e.to_string())
}

/// `DisplayErrorContext` shows the service's message, not only "service error".
fn sdk<E: std::error::Error + Send + Sync + 'static>(e: E) -> ObjectError {
    ObjectError::Backend(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

struct S3Upload {
    store: S3ObjectStore,
    key: String,
    content_type: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    bytes: u64,
}

impl S3Upload {
    async fn ship_part(&mut self) -> Result<(), ObjectError> {
        let id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .store
                    .client
                    .create_multipart_upload()
                    .bucket(&self.store.bucket)
                    .key(&self.key)
                    .content_type(&self.content_type)
                    .server_side_encryption(ServerSideEncryption::Aes256)
                    .send()
                    .await
                    .map_err(sdk)?;
                let id = out
                    .upload_id()
                    .ok_or_else(|| backend("no upload id"))?
                    .to_owned();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).map_err(backend)?;
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.store.part_size));
        let out = self
            .store
            .client
            .upload_part()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }
}

#[async_trait]
impl Upload for S3Upload {
    async fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        self.buffer.extend_from_slice(data);
        self.bytes += data.len() as u64;
        if self.buffer.len() >= self.store.part_size {
            self.ship_part().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, ObjectError> {
        let Some(id) = self.upload_id.clone() else {
            // Small enough for one request.
            let body = std::mem::take(&mut self.buffer);
            self.store
                .client
                .put_object()
                .bucket(&self.store.bucket)
                .key(&self.key)
                .content_type(&self.content_type)
                .server_side_encryption(ServerSideEncryption::Aes256)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(sdk)?;
            return Ok(self.bytes);
        };
        if !self.buffer.is_empty() {
            self.ship_part().await?;
        }
        let parts = std::mem::take(&mut self.parts);
        self.store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk)?;
        Ok(self.bytes)
    }

    async fn abort(self: Box<Self>) {
        if let Some(id) = &self.upload_id {
            let _ = self
                .store
                .client
                .abort_multipart_upload()
                .bucket(&self.store.bucket)
                .key(&self.key)
                .upload_id(id)
                .send()
                .await;
        }
    }
}

/// The SDK's presigner (`infra`'s CLI and the tests; the API signs with
/// [`super::S3Links`], which must give the same URL).
#[async_trait]
impl Links for S3ObjectStore {
    async fn signed_url(
        &self,
        key: &str,
        filename: &str,
        ttl: Duration,
    ) -> Result<SignedUrl, ObjectError> {
        let ttl = ttl.min(MAX_TTL);
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{filename}\""))
            .response_content_type("application/zip")
            .presigned(PresigningConfig::expires_in(ttl).map_err(backend)?)
            .await
            .map_err(sdk)?;
        Ok(SignedUrl {
            url: presigned.uri().to_owned(),
            expires_at: Utc::now() + chrono::Duration::from_std(ttl).map_err(backend)?,
        })
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn create(&self, key: &str, content_type: &str) -> Result<Box<dyn Upload>, ObjectError> {
        Ok(Box::new(S3Upload {
            store: self.clone(),
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            buffer: Vec::with_capacity(self.part_size),
            upload_id: None,
            parts: Vec::new(),
            bytes: 0,
        }))
    }
}
