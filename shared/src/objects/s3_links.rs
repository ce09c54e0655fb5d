//! S3 download links without the S3 SDK: a presigned GET is a SigV4
//! signature in the query string over `UNSIGNED-PAYLOAD`, which the
//! `aws-sigv4` crate computes. The API function signs its links this way and
//! so links only what it uses; `tests` hold its URLs equal to the SDK's.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_types::service_config::ServiceConfigKey;
use chrono::{DateTime, Utc};

use super::{Links, MAX_TTL, ObjectError, SignedUrl};

/// Presigned GETs of one bucket's objects, with the credentials, region and
/// S3 endpoint of an SDK configuration.
pub struct S3Links {
    bucket: String,
    region: String,
    /// An endpoint other than AWS's (`AWS_ENDPOINT_URL_S3`, an emulator):
    /// path-style URLs under it.
    endpoint: Option<String>,
    credentials: SharedCredentialsProvider,
}

fn backend(e: impl std::fmt::Display) -> ObjectError {
    ObjectError::Backend(e.to_string())
}

impl S3Links {
    /// The S3 endpoint is the one the S3 SDK would take from `sdk`: its
    /// service-specific override first, then the global one.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, bucket: String) -> Result<Self, String> {
        let region = sdk
            .region()
            .ok_or("no AWS region is configured")?
            .to_string();
        let credentials = sdk
            .credentials_provider()
            .ok_or("no AWS credentials are configured")?;
        let key = ServiceConfigKey::builder()
            .service_id("S3")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .map_err(|e| e.to_string())?;
        let endpoint = sdk
            .service_config()
            .and_then(|c| c.load_config(key))
            .or_else(|| sdk.endpoint_url().map(str::to_owned));
        Ok(Self::new(bucket, region, endpoint, credentials))
    }

    pub fn new(
        bucket: String,
        region: String,
        endpoint: Option<String>,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        Self {
            bucket,
            region,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
            credentials,
        }
    }

    /// The GET of `key` at `now`, valid for `ttl` (at most 15 minutes),
    /// answered as a ZIP download named `filename`.
    pub async fn presign(
        &self,
        key: &str,
        filename: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<SignedUrl, ObjectError> {
        let ttl = ttl.min(MAX_TTL);
        let path: String = key
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/");
        let base = match &self.endpoint {
            Some(e) => format!("{e}/{}/{path}", self.bucket),
            None => format!(
                "https://{}.s3.{}.amazonaws.com/{path}",
                self.bucket, self.region
            ),
        };
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(
                "response-content-disposition",
                &format!("attachment; filename=\"{filename}\""),
            )
            .append_pair("response-content-type", "application/zip")
            .append_pair("x-id", "GetObject")
            .finish()
            .replace('+', "%20");
        let unsigned = format!("{base}?{query}");
        let identity = self
            .credentials
            .provide_credentials()
            .await
            .map_err(backend)?
            .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(ttl);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(backend)?
            .into();
        let signable = SignableRequest::new(
            "GET",
            unsigned.as_str(),
            std::iter::empty(),
            SignableBody::UnsignedPayload,
        )
        .map_err(backend)?;
        let (instructions, _) = sign(signable, &params).map_err(backend)?.into_parts();
        let mut request = http::Request::get(unsigned.as_str())
            .body(())
            .map_err(backend)?;
        instructions.apply_to_request_http1x(&mut request);
        let expires_at =
            DateTime::<Utc>::from(now) + chrono::Duration::from_std(ttl).map_err(backend)?;
        Ok(SignedUrl {
            url: request.uri().to_string(),
            expires_at,
        })
    }
}

/// What S3 keys keep unescaped in a path segment (RFC 3986 unreserved).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[async_trait]
impl Links for S3Links {
    async fn signed_url(
        &self,
        key: &str,
        filename: &str,
        ttl: Duration,
    ) -> Result<SignedUrl, ObjectError> {
        self.presign(key, filename, ttl, SystemTime::now()).await
    }
}
