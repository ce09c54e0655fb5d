//! "Every N events": an append that carries its chain across a multiple of
//! [`EVERY_EVENTS`](super::EVERY_EVENTS) also writes a due marker for its
//! tenant (same transaction, one small item); the dispatcher's one-minute
//! sweep (and `valdrix serve`'s loop) signs each marked tenant's head and
//! clears the marker. Appenders never hold the signing key.

use chrono::Utc;
use serde_json::{Value, json};

use super::{CheckpointError, Signer, sign_head};
use crate::audit::AuditLog;
use crate::store::{Condition, Item, Query, SortKey, StoreError, VERSION_ATTRIBUTE, WriteOp};

/// One marker per tenant: `sk` is the tenant id.
pub const DUE_PK: &str = "AUDIT#CHECKPOINT-DUE";

/// The marker write for an append that moved the head from `old_seq` to
/// `new_seq`, when that crossed a multiple of `every`.
pub fn due_marker(tenant_id: &str, old_seq: u64, new_seq: u64, every: u64) -> Option<WriteOp> {
    let every = every.max(1);
    if old_seq / every == new_seq / every {
        return None;
    }
    let item = json!({
        "pk": DUE_PK,
        "sk": tenant_id,
        "tenant_id": tenant_id,
        // The marker's version is the seq that set it: the sweep clears only
        // the marker it read, never one a newer append wrote since.
        VERSION_ATTRIBUTE: new_seq,
    });
    let Value::Object(item) = item else {
        unreachable!("json! object")
    };
    Some(WriteOp::Put {
        item,
        condition: Condition::None,
    })
}

/// Sign the head of every marked tenant and clear its marker; the tenants
/// signed. A tenant that fails stays marked for the next sweep.
pub async fn sweep_due(
    audit: &AuditLog,
    signer: &dyn Signer,
) -> Result<Vec<String>, CheckpointError> {
    let store = audit.store();
    let mut signed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(Query {
                pk: DUE_PK.into(),
                sk: SortKey::All,
                descending: false,
                limit: 100,
                cursor,
            })
            .await?;
        for item in &page.items {
            let Some((tenant_id, version)) = marker(item) else {
                continue;
            };
            match sign_head(audit, signer, &tenant_id, Utc::now()).await {
                Ok(_) => {
                    match store
                        .delete(DUE_PK, &tenant_id, Condition::VersionEquals(version))
                        .await
                    {
                        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                    signed.push(tenant_id);
                }
                Err(e) => {
                    tracing::error!(tenant_id, error = %e, "audit checkpoint failed; the tenant stays due")
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(signed),
        }
    }
}

/// [`sweep_due`] every `period`, for ever (`valdrix serve`, which has no
/// schedule); a failed sweep is logged and tried again.
pub async fn sweep_forever(audit: AuditLog, signer: super::DynSigner, period: std::time::Duration) {
    loop {
        if let Err(e) = sweep_due(&audit, signer.as_ref()).await {
            tracing::error!(error = %e, "audit checkpoint sweep failed");
        }
        tokio::time::sleep(period).await;
    }
}

fn marker(item: &Item) -> Option<(String, u64)> {
    Some((
        item.get("sk")?.as_str()?.to_owned(),
        item.get(VERSION_ATTRIBUTE)?.as_u64()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_only_when_the_append_crosses_a_multiple() {
        assert!(due_marker("t", 0, 1, 100).is_none());
        assert!(due_marker("t", 98, 99, 100).is_none());
        assert!(due_marker("t", 99, 100, 100).is_some());
        // A batch that jumps over the multiple still marks.
        assert!(due_marker("t", 97, 103, 100).is_some());
        assert!(due_marker("t", 100, 101, 100).is_none());
    }
}
