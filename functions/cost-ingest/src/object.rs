//! The cost file in S3: its key, its version, and its bytes from an offset.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use valdrix_shared::ledger::ingest::IngestError;

use crate::Failure;

/// The tenant of `tenants/<tenant_id>/<rest>`, when the key has that shape.
pub fn tenant_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("tenants/")?;
    let (tenant, file) = rest.split_once('/')?;
    let ok = !tenant.is_empty()
        && !file.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    ok.then_some(tenant)
}

/// S3 event keys are URL-encoded with `+` for spaces (a literal `+` comes
/// as `%2B`, so spaces are restored first).
pub fn decode_key(raw: &str) -> String {
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// An ETag without the quotes HTTP puts around it (S3 events have none).
pub(crate) fn bare(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// The object's ETag, when the event did not carry it.
pub(crate) async fn etag(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<String, Failure> {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| Failure::S3(DisplayErrorContext(e).to_string()))?;
    Ok(bare(head.e_tag().unwrap_or_default()))
}

/// The object's bytes from `offset` on (a ranged GET), as a blocking reader;
/// only while it is still the version `etag` names.
pub(crate) async fn open(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: String,
    offset: Option<u64>,
) -> Result<impl std::io::Read + Send + 'static, IngestError> {
    let mut get = s3.get_object().bucket(bucket).key(key);
    if !etag.is_empty() {
        // Events carry it bare, HTTP wants it quoted.
        get = get.if_match(format!("\"{etag}\""));
    }
    let object = get
        .set_range(offset.map(|o| format!("bytes={o}-")))
        .send()
        .await
        .map_err(|e| {
            if e.code() == Some("PreconditionFailed") {
                IngestError::Unreadable(
                    "the object was replaced since (its own event ingests the new one)".into(),
                )
            } else {
                IngestError::Fetch(DisplayErrorContext(e).to_string())
            }
        })?;
    Ok(tokio_util::io::SyncIoBridge::new(
        object.body.into_async_read(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_tenant() {
        assert_eq!(tenant_of("tenants/acme/focus/x.csv.gz"), Some("acme"));
        assert_eq!(tenant_of("tenants/acme/"), None);
        assert_eq!(tenant_of("tenants/../x"), None);
        assert_eq!(tenant_of("other/acme/x.csv"), None);
        assert_eq!(
            decode_key("tenants/acme/a+b%2Bc.csv"),
            "tenants/acme/a b+c.csv"
        );
        assert_eq!(decode_key("100%"), "100%");
    }
}
