//! Checking the signed checkpoints of a verified range of the chain: each
//! must name this tenant and its own seq, sign the hash the walk computed
//! for that event, and carry a valid signature by a key of the registry.
//! A stored checkpoint that fails is a finding (tampering), not an error.

use std::collections::HashMap;

use super::{Checkpoint, CheckpointError, SK_PREFIX, checkpoint_sk, key};
use crate::audit::{AuditError, tenant_pk};
use crate::store::{Query, SortKey, Store};

/// The registry's keys, read once per verification.
#[derive(Default)]
pub struct KeyCache(HashMap<String, Option<super::PublicKey>>);

/// The first checkpoint that fails: its seq and why.
pub type Finding = (u64, String);

/// Check every checkpoint with `from <= seq <= to`; `hash_of(seq)` is the
/// hash the walk verified for that event. `Ok(Err(_))` names the first
/// failure; `Ok(Ok(n))` counts the checkpoints that hold.
pub async fn check_between(
    store: &dyn Store,
    tenant_id: &str,
    (from, to): (u64, u64),
    hash_of: impl Fn(u64) -> Option<String>,
    keys: &mut KeyCache,
) -> Result<Result<u64, Finding>, AuditError> {
    let mut checked = 0;
    let mut cursor = None;
    loop {
        let page = store
            .query(Query {
                pk: tenant_pk(tenant_id),
                sk: SortKey::Between(checkpoint_sk(from), checkpoint_sk(to)),
                descending: false,
                limit: 500,
                cursor,
            })
            .await?;
        for item in &page.items {
            let seq = item
                .get("sk")
                .and_then(|v| v.as_str())
                .and_then(|sk| sk.strip_prefix(SK_PREFIX))
                .and_then(|n| n.parse().ok())
                .unwrap_or(from);
            let Ok(checkpoint) = Checkpoint::parse(item) else {
                return Ok(Err((seq, format!("checkpoint {seq} is malformed"))));
            };
            if let Some(why) = check_one(store, tenant_id, seq, &checkpoint, &hash_of, keys).await?
            {
                return Ok(Err((seq, why)));
            }
            checked += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Ok(checked)),
        }
    }
}

async fn check_one(
    store: &dyn Store,
    tenant_id: &str,
    seq: u64,
    checkpoint: &Checkpoint,
    hash_of: &impl Fn(u64) -> Option<String>,
    keys: &mut KeyCache,
) -> Result<Option<String>, AuditError> {
    let s = &checkpoint.statement;
    if s.tenant_id != tenant_id || s.seq != seq {
        return Ok(Some(format!(
            "checkpoint {seq} signs another tenant or seq"
        )));
    }
    if hash_of(seq).as_deref() != Some(s.head_hash.as_str()) {
        return Ok(Some(format!(
            "checkpoint {seq} signed another hash for this event"
        )));
    }
    if !keys.0.contains_key(&s.key_id) {
        let found = match key(store, &s.key_id).await {
            Ok(record) => record.map(|r| r.key),
            Err(CheckpointError::Audit(e)) => return Err(e),
            Err(_) => None,
        };
        keys.0.insert(s.key_id.clone(), found);
    }
    Ok(match &keys.0[&s.key_id] {
        None => Some(format!(
            "checkpoint {seq}'s key is missing from the key registry"
        )),
        Some(k) if !k.verifies(s.text().as_bytes(), &checkpoint.signature) => {
            Some(format!("checkpoint {seq}'s signature does not verify"))
        }
        Some(_) => None,
    })
}
