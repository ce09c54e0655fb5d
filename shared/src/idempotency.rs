//! `Idempotency-Key` handling: the first request with a key runs and its answer
//! is kept (with a TTL); a retry with the same key and body gets that answer
//! without the work running again; the same key with another body is refused.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{Condition, Item, Store, StoreError, TTL_ATTRIBUTE, VERSION_ATTRIBUTE};

/// How long a key is remembered.
pub const KEEP_SECONDS: i64 = 24 * 3600;
/// A claim older than this with no answer is taken to have died with its
/// worker, e.g. when the store went away mid-run and the claim could not be
/// released: until then a retry with the key is 409. Every request ends within
/// API Gateway's 30 s integration timeout, so a minute is safely past any run.
pub const STALE_CLAIM_SECONDS: i64 = 60;

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Run the work, then [`complete`] (or [`release`] on failure).
    Fresh,
    /// The first run's answer.
    Replay { status: u16, body: Value },
    /// The first run is still going.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// 1–128 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

pub fn request_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn pk(tenant_id: &str, scope: &str, key: &str) -> String {
    format!("IDEMPOTENCY#{tenant_id}#{scope}#{key}")
}

fn claim_item(pk: &str, hash: &str, version: u64) -> Item {
    let now = chrono::Utc::now().timestamp();
    let v = json!({
        "pk": pk, "sk": "-", "request_hash": hash, "state": "in_progress",
        "claimed_at": now, TTL_ATTRIBUTE: now + KEEP_SECONDS, VERSION_ATTRIBUTE: version,
    });
    v.as_object().cloned().unwrap_or_default()
}

pub async fn claim(
    store: &dyn Store,
    tenant_id: &str,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Claim, StoreError> {
    let pk = pk(tenant_id, scope, key);
    match store
        .put(claim_item(&pk, hash, 1), Condition::NotExists)
        .await
    {
        Ok(()) => return Ok(Claim::Fresh),
        Err(StoreError::ConditionFailed { .. }) => {}
        Err(e) => return Err(e),
    }
    let Some(existing) = store.get(&pk, "-").await? else {
        // Expired between our put and our read: try once more.
        return match store
            .put(claim_item(&pk, hash, 1), Condition::NotExists)
            .await
        {
            Ok(()) => Ok(Claim::Fresh),
            Err(StoreError::ConditionFailed { .. }) => Ok(Claim::InProgress),
            Err(e) => Err(e),
        };
    };
    if existing.get("request_hash").and_then(Value::as_str) != Some(hash) {
        return Ok(Claim::Mismatch);
    }
    if existing.get("state").and_then(Value::as_str) == Some("completed") {
        return Ok(Claim::Replay {
            status: existing
                .get("status")
                .and_then(Value::as_u64)
                .unwrap_or(200) as u16,
            body: existing.get("response").cloned().unwrap_or(Value::Null),
        });
    }
    let claimed_at = existing
        .get("claimed_at")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let version = existing
        .get(VERSION_ATTRIBUTE)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if chrono::Utc::now().timestamp() - claimed_at < STALE_CLAIM_SECONDS {
        return Ok(Claim::InProgress);
    }
    match store
        .put(
            claim_item(&pk, hash, version + 1),
            Condition::VersionEquals(version),
        )
        .await
    {
        Ok(()) => Ok(Claim::Fresh),
        Err(StoreError::ConditionFailed { .. }) => Ok(Claim::InProgress),
        Err(e) => Err(e),
    }
}

/// Keep the answer for retries.
pub async fn complete(
    store: &dyn Store,
    tenant_id: &str,
    scope: &str,
    key: &str,
    hash: &str,
    status: u16,
    body: &Value,
) -> Result<(), StoreError> {
    let now = chrono::Utc::now().timestamp();
    let item = json!({
        "pk": pk(tenant_id, scope, key), "sk": "-", "request_hash": hash, "state": "completed",
        "status": status, "response": body, TTL_ATTRIBUTE: now + KEEP_SECONDS,
    });
    store
        .put(
            item.as_object().cloned().unwrap_or_default(),
            Condition::Exists,
        )
        .await
}

/// Forget a claim whose work failed, so a retry runs it again.
pub async fn release(
    store: &dyn Store,
    tenant_id: &str,
    scope: &str,
    key: &str,
) -> Result<(), StoreError> {
    match store
        .delete(&pk(tenant_id, scope, key), "-", Condition::None)
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
