//! Signed checkpoints of a tenant's audit chain: the head (tenant, seq, head
//! hash, time) signed with a key the functions can use but never read, so an
//! auditor can prove offline that the chain was not rewritten after the fact.
//!
//! A checkpoint is stored in the chain's own partition beside the events
//! (`AUDIT#CHECKPOINT#<seq>`); a rewrite of the chain changes the hashes the
//! old checkpoints signed, so they stop matching. Each names the key that
//! signed it; every key ever used stays in the registry (`AUDIT#KEYS`), so
//! rotation keeps old checkpoints checkable.
//!
//! When: every [`EVERY_EVENTS`] events (an append that crosses a multiple
//! marks its tenant due; the dispatcher's one-minute sweep signs), once a day
//! for every tenant with new events (the daily evidence run), and at each
//! export (the pack signs the head it exports).

pub mod check;
mod due;
#[cfg(feature = "kms")]
pub mod kms;
pub mod local;
pub mod signer;
mod statement;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

pub use due::{DUE_PK, due_marker, sweep_due, sweep_forever};
pub use signer::{DynSigner, KEY_SPEC, PublicKey, SIGNING_ALGORITHM, SignError, Signer};
pub use statement::{STATEMENT_HEADER, Statement};

use super::{AuditError, AuditLog, tenant_pk};
use crate::store::{Condition, Item, Query, SortKey, Store, StoreError};

/// The unsigned tail of a chain is at most this many events (plus the
/// sweep's minute). 100 keeps checkpoints to 1% of the audit writes and a
/// 100 000-event pack to 1000 signatures, which openssl checks in seconds;
/// the daily run bounds quiet tenants in time.
pub const EVERY_EVENTS: u64 = 100;

pub(crate) const SK_PREFIX: &str = "AUDIT#CHECKPOINT#";
const KEYS_PK: &str = "AUDIT#KEYS";

fn checkpoint_sk(seq: u64) -> String {
    format!("{SK_PREFIX}{seq:020}")
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("stored checkpoint {0} is malformed")]
    Malformed(String),
}

impl From<StoreError> for CheckpointError {
    fn from(e: StoreError) -> Self {
        Self::Audit(e.into())
    }
}

/// One signed head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub statement: Statement,
    /// DER ECDSA signature over `statement.text()`.
    pub signature: Vec<u8>,
}

impl Checkpoint {
    fn item(&self) -> Item {
        let s = &self.statement;
        let item = json!({
            "pk": tenant_pk(&s.tenant_id),
            "sk": checkpoint_sk(s.seq),
            "seq": s.seq,
            "statement": s.text(),
            "signature": STANDARD.encode(&self.signature),
            "key_id": s.key_id,
        });
        match item {
            Value::Object(map) => map,
            _ => unreachable!("json! object"),
        }
    }

    fn parse(item: &Item) -> Result<Self, CheckpointError> {
        let sk = || {
            item.get("sk")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        let text = item.get("statement").and_then(Value::as_str);
        let sig = item.get("signature").and_then(Value::as_str);
        let (Some(text), Some(sig)) = (text, sig) else {
            return Err(CheckpointError::Malformed(sk()));
        };
        let statement = Statement::parse(text).ok_or_else(|| CheckpointError::Malformed(sk()))?;
        let signature = STANDARD
            .decode(sig)
            .map_err(|_| CheckpointError::Malformed(sk()))?;
        Ok(Self {
            statement,
            signature,
        })
    }
}

/// A key that signed checkpoints, as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key: PublicKey,
    /// A KMS key ARN, or `local`.
    pub key_ref: String,
    pub first_used_at: String,
}

/// Sign the tenant's current head, unless a checkpoint of it exists already;
/// `None` for a tenant with no events.
pub async fn sign_head(
    audit: &AuditLog,
    signer: &dyn Signer,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let Some(head) = audit.head(tenant_id).await? else {
        return Ok(None);
    };
    sign_at(audit.store(), signer, tenant_id, head.seq, &head.hash, now)
        .await
        .map(Some)
}

/// A checkpoint of (`seq`, `hash`), which the caller read from the chain;
/// the one already stored for `seq` when there is one.
pub async fn sign_at(
    store: &dyn Store,
    signer: &dyn Signer,
    tenant_id: &str,
    seq: u64,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Checkpoint, CheckpointError> {
    if let Some(existing) = at(store, tenant_id, seq).await? {
        return Ok(existing);
    }
    let key = signer.public_key().await?;
    let statement = Statement {
        tenant_id: tenant_id.to_owned(),
        seq,
        head_hash: hash.to_owned(),
        signed_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        key_id: key.id(),
    };
    let signature = signer.sign(statement.text().as_bytes()).await?;
    if !key.verifies(statement.text().as_bytes(), &signature) {
        return Err(SignError::Invalid(
            "the signer's signature does not verify with its key".into(),
        )
        .into());
    }
    register(store, &key, &signer.key_ref(), &statement.signed_at).await?;
    let checkpoint = Checkpoint {
        statement,
        signature,
    };
    match store.put(checkpoint.item(), Condition::NotExists).await {
        Ok(()) => Ok(checkpoint),
        // Another writer signed this seq first: theirs stands.
        Err(StoreError::ConditionFailed { .. }) => at(store, tenant_id, seq)
            .await?
            .ok_or_else(|| CheckpointError::Malformed(checkpoint_sk(seq))),
        Err(e) => Err(e.into()),
    }
}

/// Whether the tenant's chain has moved past its last checkpoint by at least `events`.
pub async fn is_due(
    audit: &AuditLog,
    tenant_id: &str,
    events: u64,
) -> Result<bool, CheckpointError> {
    let Some(head) = audit.head(tenant_id).await? else {
        return Ok(false);
    };
    let signed = latest(audit.store(), tenant_id)
        .await?
        .map_or(0, |c| c.statement.seq);
    Ok(head.seq >= signed + events.max(1))
}

/// The checkpoint of `seq`, if one was signed.
pub async fn at(
    store: &dyn Store,
    tenant_id: &str,
    seq: u64,
) -> Result<Option<Checkpoint>, CheckpointError> {
    match store
        .get(&tenant_pk(tenant_id), &checkpoint_sk(seq))
        .await?
    {
        Some(item) => Checkpoint::parse(&item).map(Some),
        None => Ok(None),
    }
}

/// The newest checkpoint of a tenant.
pub async fn latest(
    store: &dyn Store,
    tenant_id: &str,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let page = store
        .query(Query {
            pk: tenant_pk(tenant_id),
            sk: SortKey::Prefix(SK_PREFIX.into()),
            descending: true,
            limit: 1,
            cursor: None,
        })
        .await?;
    page.items.first().map(Checkpoint::parse).transpose()
}

/// Every checkpoint with `from <= seq <= to`, in seq order.
pub async fn between(
    store: &dyn Store,
    tenant_id: &str,
    from: u64,
    to: u64,
) -> Result<Vec<Checkpoint>, CheckpointError> {
    let mut out = Vec::new();
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
            out.push(Checkpoint::parse(item)?);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Keep a key's public half in the registry the first time it signs.
async fn register(
    store: &dyn Store,
    key: &PublicKey,
    key_ref: &str,
    now: &str,
) -> Result<(), CheckpointError> {
    let item = json!({
        "pk": KEYS_PK,
        "sk": format!("KEY#{}", key.id()),
        "key_id": key.id(),
        "public_key_pem": key.pem(),
        "key_spec": KEY_SPEC,
        "signing_algorithm": SIGNING_ALGORITHM,
        "key_ref": key_ref,
        "first_used_at": now,
    });
    let Value::Object(item) = item else {
        unreachable!("json! object")
    };
    match store.put(item, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A key of the registry by its id.
pub async fn key(store: &dyn Store, key_id: &str) -> Result<Option<KeyRecord>, CheckpointError> {
    let Some(item) = store.get(KEYS_PK, &format!("KEY#{key_id}")).await? else {
        return Ok(None);
    };
    let text = |k: &str| item.get(k).and_then(Value::as_str);
    let malformed = || CheckpointError::Malformed(format!("KEY#{key_id}"));
    let key = PublicKey::all_from_pem(text("public_key_pem").ok_or_else(malformed)?)
        .map_err(|_| malformed())?
        .remove(0);
    if key.id() != key_id {
        return Err(malformed());
    }
    Ok(Some(KeyRecord {
        key,
        key_ref: text("key_ref").unwrap_or_default().to_owned(),
        first_used_at: text("first_used_at").unwrap_or_default().to_owned(),
    }))
}
