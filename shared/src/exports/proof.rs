//! What lets an auditor prove the pack offline: the audit events of the
//! exported range (`audit/events.jsonl`, each line exactly the bytes its
//! hash is taken over), the signed checkpoints that cover the range (the
//! export signs one of the range's last event, so no exported event is left
//! unsigned), the public keys that made them, and `SHA256SUMS` signed with
//! the export's key. `VERIFY.md` (verify_md.rs) says how to check each with
//! sha256sum, openssl and the shell; `valdrix verify-pack` checks the same.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::pack::PackError;
use super::zipout::ZipOut;
use crate::audit::checkpoint::{self, Checkpoint, PublicKey, Signer};
use crate::audit::{AuditEvent, AuditLog, canonical_json};

pub const EVENTS_PATH: &str = "audit/events.jsonl";
pub const CHECKPOINTS_DIR: &str = "audit/checkpoints/";
pub const KEYS_DIR: &str = "keys/";
pub const SUMS_PATH: &str = "SHA256SUMS";
pub const SUMS_SIG_PATH: &str = "SHA256SUMS.sig";

/// The exported range: every event with `from <= seq <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: u64,
    pub to: u64,
}

impl Range {
    /// The smallest range holding both.
    pub fn cover(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Self {
                from: a.from.min(b.from),
                to: a.to.max(b.to),
            }),
            (a, b) => a.or(b),
        }
    }

    pub fn of(seq: u64) -> Self {
        Self { from: seq, to: seq }
    }
}

/// The bytes an event's hash is taken over: its canonical JSON without `hash`.
pub fn event_line(e: &AuditEvent) -> Vec<u8> {
    let mut body = serde_json::to_value(e).expect("audit event serializes");
    if let Value::Object(map) = &mut body {
        map.remove("hash");
    }
    canonical_json(&body)
}

/// What the proof adds to the manifest and the report.
pub struct Proof {
    pub range: Option<Range>,
    pub checkpoints: Vec<Checkpoint>,
    /// The key the export signed with (its last checkpoint and SHA256SUMS).
    pub key: PublicKey,
    /// The policy events and deliveries of the range, for the report.
    pub policy_events: Vec<AuditEvent>,
}

impl Proof {
    pub fn manifest_range(&self) -> Value {
        self.range.map_or(Value::Null, |r| {
            json!({"from_seq": r.from, "to_seq": r.to, "events": r.to - r.from + 1, "path": EVENTS_PATH})
        })
    }

    pub fn manifest_last_checkpoint(&self) -> Value {
        self.checkpoints.last().map_or(Value::Null, |c| {
            let s = &c.statement;
            json!({
                "seq": s.seq, "head_hash": s.head_hash, "signed_at": s.signed_at, "key_id": s.key_id,
                "path": statement_path(s.seq),
            })
        })
    }
}

pub fn statement_path(seq: u64) -> String {
    format!("{CHECKPOINTS_DIR}{seq:020}.txt")
}

pub fn signature_path(seq: u64) -> String {
    format!("{CHECKPOINTS_DIR}{seq:020}.sig")
}

pub fn key_path(key_id: &str) -> String {
    format!("{KEYS_DIR}{key_id}.pem")
}

/// Report rows kept at most: the report links to the events file for the rest.
const POLICY_ROWS: usize = 2000;

/// Write the range's events, sign its last event, write the checkpoints
/// that cover it and their keys.
pub async fn write(
    zip: &mut ZipOut<'_>,
    audit: &AuditLog,
    signer: &dyn Signer,
    tenant_id: &str,
    range: Option<Range>,
    now: DateTime<Utc>,
) -> Result<Proof, PackError> {
    zip.start(EVENTS_PATH)?;
    let mut policy_events = Vec::new();
    let mut last: Option<AuditEvent> = None;
    if let Some(r) = range {
        let mut cursor = None;
        loop {
            let (events, next) = audit
                .page_between(tenant_id, (r.from, r.to), 500, cursor)
                .await?;
            let mut buf = Vec::new();
            for e in events {
                buf.extend(event_line(&e));
                buf.push(b'\n');
                if e.event_type.starts_with("policy.") && policy_events.len() < POLICY_ROWS {
                    policy_events.push(e.clone());
                }
                last = Some(e);
            }
            zip.write(&buf)?;
            zip.pump().await?;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    zip.end()?;

    let key = signer
        .public_key()
        .await
        .map_err(checkpoint::CheckpointError::from)?;
    let mut checkpoints = Vec::new();
    if let (Some(r), Some(last)) = (range, &last) {
        // The export's own checkpoint: of the range's last event.
        checkpoint::sign_at(audit.store(), signer, tenant_id, last.seq, &last.hash, now).await?;
        checkpoints = checkpoint::between(audit.store(), tenant_id, r.from, last.seq).await?;
    }
    let mut key_ids = BTreeSet::from([key.id()]);
    for c in &checkpoints {
        let s = &c.statement;
        zip.file(&statement_path(s.seq), s.text().as_bytes())
            .await?;
        zip.file(&signature_path(s.seq), &c.signature).await?;
        key_ids.insert(s.key_id.clone());
    }
    for key_id in key_ids {
        // A key missing from the registry leaves its checkpoints unverifiable,
        // which verification then names; the pack is still written.
        match checkpoint::key(audit.store(), &key_id).await? {
            Some(record) => {
                zip.file(&key_path(&key_id), record.key.pem().as_bytes())
                    .await?
            }
            None if key_id == key.id() => {
                zip.file(&key_path(&key_id), key.pem().as_bytes()).await?
            }
            None => tracing::error!(key_id, "a checkpoint's key is missing from the registry"),
        }
    }
    Ok(Proof {
        range: range.filter(|_| last.is_some()),
        checkpoints,
        key,
        policy_events,
    })
}

/// `SHA256SUMS` (sha256sum's format, every file so far) and its signature.
pub async fn sums(zip: &mut ZipOut<'_>, signer: &dyn Signer) -> Result<(), PackError> {
    let mut text = String::new();
    for f in zip.files() {
        text.push_str(&format!("{}  {}\n", f.sha256, f.path));
    }
    let sig = signer
        .sign(text.as_bytes())
        .await
        .map_err(checkpoint::CheckpointError::from)?;
    zip.file(SUMS_PATH, text.as_bytes()).await?;
    zip.file(SUMS_SIG_PATH, &sig).await?;
    Ok(())
}
