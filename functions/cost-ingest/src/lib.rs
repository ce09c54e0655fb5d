//! The cost-ingest function: S3 `ObjectCreated` events for FOCUS cost exports
//! under `tenants/<tenant_id>/…`. Each object is streamed from S3 (never held
//! whole), decompressed when gzip, and written into the tenant's ledger by
//! [`valdrix_shared::ledger::ingest`], which also audits the counts.
//!
//! A transient failure (S3 or the store unavailable) fails the invocation so
//! Lambda retries it; the writes are idempotent, so a retry is safe. An object
//! outside `tenants/<id>/`, for an unknown tenant, or that is not a FOCUS CSV
//! is logged and skipped (a retry could not fix it).

use aws_lambda_events::event::s3::S3Event;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::ledger::ingest::{IngestError, IngestReport, ingest};
use valdrix_shared::state::Core;
use valdrix_shared::store::StoreError;
use valdrix_shared::tenancy;

/// A failure a retry may cure (S3 or the store unavailable): the invocation
/// fails with it, and Lambda retries the event (then its on-failure queue).
/// What a retry cannot cure is skipped and logged, never an error.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("s3: {0}")]
    S3(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The error type Lambda records names the kind, so the failure queue and
/// the alarms tell an S3 outage from a store outage.
impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(f: Failure) -> Self {
        let kind = match f {
            Failure::S3(_) => "CostIngest.S3Unavailable",
            Failure::Store(_) => "CostIngest.StoreUnavailable",
        };
        Self {
            error_type: kind.into(),
            error_message: f.to_string(),
        }
    }
}

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

/// Ingest every object of the event; the per-object outcomes.
pub async fn handle(
    state: &Core,
    s3: &aws_sdk_s3::Client,
    event: S3Event,
) -> Result<Value, Failure> {
    let mut outcomes = Vec::new();
    for record in event.records {
        let (Some(bucket), Some(raw_key)) = (record.s3.bucket.name, record.s3.object.key) else {
            continue;
        };
        let key = decode_key(&raw_key);
        let outcome = match ingest_object(state, s3, &bucket, &key).await? {
            Ok(report) => json!({"key": key, "status": "ingested", "report": report}),
            Err(reason) => {
                tracing::warn!(%key, %reason, "cost object skipped");
                json!({"key": key, "status": "skipped", "reason": reason})
            }
        };
        outcomes.push(outcome);
    }
    Ok(json!({ "objects": outcomes }))
}

/// `Ok(Err(reason))` for an object that can never be ingested.
pub async fn ingest_object(
    state: &Core,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Result<IngestReport, String>, Failure> {
    let Some(tenant) = tenant_of(key) else {
        return Ok(Err("the key is not under tenants/<tenant_id>/".into()));
    };
    if tenancy::get_tenant(state.store.as_ref(), tenant)
        .await?
        .is_none()
    {
        return Ok(Err(format!("tenant {tenant} does not exist")));
    }
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| Failure::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    let reader = tokio_util::io::SyncIoBridge::new(object.body.into_async_read());
    let source = format!("s3://{bucket}/{key}");
    match ingest(
        &state.store,
        &state.audit,
        tenant,
        &source,
        reader,
        Actor::System,
    )
    .await
    {
        Ok(report) => Ok(Ok(report)),
        Err(IngestError::Store(e)) => Err(e.into()),
        Err(IngestError::Unreadable(reason)) => Ok(Err(reason)),
    }
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
