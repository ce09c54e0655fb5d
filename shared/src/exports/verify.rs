//! Verifying a compliance pack, offline, as `valdrix verify-pack` does: every
//! file against the manifest and `SHA256SUMS`, the chain recomputed over the
//! exported events, every checkpoint's signature and that the chain passes
//! through its signed head, `SHA256SUMS.sig`, and the files made from the
//! chain (`audit_log.csv`, `integration_acceptance_evidence.json`,
//! `audit_chain.json`) against the events they came from. The first check
//! that fails is named: a file, an event seq or a checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::proof::{
    CHECKPOINTS_DIR, EVENTS_PATH, KEYS_DIR, SUMS_PATH, SUMS_SIG_PATH, key_path, signature_path,
};
use crate::audit::checkpoint::{PublicKey, Statement};
use crate::audit::{AuditEvent, GENESIS_HASH, canonical_json};

/// The manifest's `pack_version` this verifier reads (1 carried no proof).
pub const VERIFIABLE_VERSION: &str = "2";
/// Files the manifest cannot list: itself, and what is made after it.
const UNLISTED: [&str; 3] = ["manifest.json", SUMS_PATH, SUMS_SIG_PATH];

/// What a passing pack holds.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub tenant_id: String,
    pub run_id: String,
    pub from_seq: u64,
    pub to_seq: u64,
    pub events_checked: u64,
    pub checkpoints_checked: usize,
    pub files_checked: usize,
    pub keys: Vec<String>,
}

/// Why a pack fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// Not a compliance pack this verifier reads (exit 2).
    NotAPack { reason: String },
    /// A file is missing, extra, or differs.
    File { path: String, reason: String },
    /// An exported event breaks the chain.
    Event { seq: u64, reason: String },
    /// A checkpoint does not hold.
    Checkpoint { seq: u64, reason: String },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAPack { reason } => write!(f, "not a compliance pack: {reason}"),
            Self::File { path, reason } => write!(f, "file {path}: {reason}"),
            Self::Event { seq, reason } => write!(f, "event {seq}: {reason}"),
            Self::Checkpoint { seq, reason } => write!(f, "checkpoint {seq}: {reason}"),
        }
    }
}

fn file(path: &str, reason: impl Into<String>) -> Failure {
    Failure::File {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn not_a_pack(reason: impl Into<String>) -> Failure {
    Failure::NotAPack {
        reason: reason.into(),
    }
}

/// Check the pack in `zip`. `trusted`: the keys the auditor holds; when
/// given, every signature must be by one of them.
pub fn verify_pack<R: Read + Seek>(
    zip: R,
    trusted: Option<&[PublicKey]>,
) -> Result<Verified, Failure> {
    let files = read_all(zip)?;
    if !files.contains_key("manifest.json") && !files.contains_key(SUMS_PATH) {
        return Err(not_a_pack("neither manifest.json nor SHA256SUMS is in it"));
    }
    // First what sha256sum checks, so a changed manifest is named as such.
    check_sums(&files, trusted)?;
    let manifest: Value = serde_json::from_slice(&files["manifest.json"])
        .map_err(|_| file("manifest.json", "is not JSON"))?;
    match manifest["pack_version"].as_str() {
        Some(VERIFIABLE_VERSION) => {}
        Some(v) => {
            return Err(not_a_pack(format!(
                "pack_version {v} carries no proof to check"
            )));
        }
        None => return Err(not_a_pack("the manifest has no pack_version")),
    }
    let text = |k: &str| manifest[k].as_str().unwrap_or_default().to_owned();
    let tenant_id = text("tenant_id");

    let files_checked = check_manifest(&files, &manifest)?;
    let chain = check_chain(&files, &manifest, &tenant_id)?;
    let checkpoints = check_checkpoints(&files, &manifest, &chain, &tenant_id, trusted)?;
    // SHA256SUMS is signed by the export's key (a checkpoint it reuses may be older).
    let signer = manifest["signing_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let sums_key = key_of(&files, &signer, trusted).map_err(|r| file(SUMS_SIG_PATH, r))?;
    if !sums_key.verifies(&files[SUMS_PATH], &files[SUMS_SIG_PATH]) {
        return Err(file(
            SUMS_SIG_PATH,
            format!("does not verify SHA256SUMS with {}", key_path(&signer)),
        ));
    }
    super::verify_derived::check(&files, &chain.events)?;
    let keys = files
        .keys()
        .filter_map(|p| p.strip_prefix(KEYS_DIR)?.strip_suffix(".pem"))
        .map(str::to_owned)
        .collect();
    Ok(Verified {
        tenant_id,
        run_id: text("run_id"),
        from_seq: chain.from,
        to_seq: chain.to,
        events_checked: chain.events.len() as u64,
        checkpoints_checked: checkpoints,
        files_checked,
        keys,
    })
}

fn read_all<R: Read + Seek>(zip: R) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let mut archive =
        zip::ZipArchive::new(zip).map_err(|e| not_a_pack(format!("not a ZIP archive ({e})")))?;
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| not_a_pack(format!("unreadable ZIP entry {i} ({e})")))?;
        let name = entry
            .name()
            .map_err(|e| not_a_pack(format!("ZIP entry {i} has no readable name ({e})")))?
            .into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| file(&name, format!("cannot be read ({e})")))?;
        if files.insert(name.clone(), data).is_some() {
            return Err(file(&name, "appears twice in the archive"));
        }
    }
    Ok(files)
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Whether SHA256SUMS.sig verifies with a key of the pack (a trusted one,
/// when given): then a file that differs from its line is that file's fault.
fn sums_signed(files: &BTreeMap<String, Vec<u8>>, trusted: Option<&[PublicKey]>) -> bool {
    let (Some(sums), Some(sig)) = (files.get(SUMS_PATH), files.get(SUMS_SIG_PATH)) else {
        return false;
    };
    files
        .iter()
        .filter(|(p, _)| p.starts_with(KEYS_DIR))
        .filter_map(|(_, pem)| PublicKey::all_from_pem(std::str::from_utf8(pem).ok()?).ok())
        .flatten()
        .filter(|k| trusted.is_none_or(|t| t.contains(k)))
        .any(|k| k.verifies(sums, sig))
}

/// Every file against SHA256SUMS, which must list all but itself and its
/// signature. A mismatch is the file's when SHA256SUMS is still as signed
/// (or the file is a key, without which no signature verifies), else
/// SHA256SUMS's own.
fn check_sums(
    files: &BTreeMap<String, Vec<u8>>,
    trusted: Option<&[PublicKey]>,
) -> Result<(), Failure> {
    let signed = sums_signed(files, trusted);
    let changed = || {
        file(
            SUMS_PATH,
            "was changed after export: its signature does not verify",
        )
    };
    let sums = files
        .get(SUMS_PATH)
        .ok_or_else(|| file(SUMS_PATH, "is missing"))?;
    let sums = std::str::from_utf8(sums).map_err(|_| changed())?;
    let mut summed = BTreeSet::new();
    for line in sums.lines() {
        let Some((hash, path)) = line.split_once("  ") else {
            return Err(if signed {
                file(SUMS_PATH, format!("malformed line {line:?}"))
            } else {
                changed()
            });
        };
        let blame = |reason: &str| {
            if signed || path.starts_with(KEYS_DIR) {
                file(path, reason)
            } else {
                changed()
            }
        };
        let data = files
            .get(path)
            .ok_or_else(|| blame("is listed in SHA256SUMS but missing"))?;
        if sha256(data) != hash {
            return Err(blame("its SHA-256 does not match SHA256SUMS"));
        }
        summed.insert(path);
    }
    for path in files.keys() {
        if !summed.contains(path.as_str()) && path != SUMS_PATH && path != SUMS_SIG_PATH {
            return Err(file(path, "is not listed in SHA256SUMS"));
        }
    }
    if !files.contains_key(SUMS_SIG_PATH) {
        return Err(file(SUMS_SIG_PATH, "is missing"));
    }
    Ok(())
}

/// Sizes and hashes against the manifest; no file outside it but the
/// manifest and what signs it.
fn check_manifest(files: &BTreeMap<String, Vec<u8>>, manifest: &Value) -> Result<usize, Failure> {
    let listed = manifest["files"]
        .as_array()
        .ok_or_else(|| file("manifest.json", "lists no files"))?;
    let mut seen = BTreeSet::new();
    for entry in listed {
        let path = entry["path"].as_str().unwrap_or_default();
        let data = files
            .get(path)
            .ok_or_else(|| file(path, "is listed in the manifest but missing"))?;
        if entry["bytes"].as_u64() != Some(data.len() as u64) {
            return Err(file(
                path,
                format!(
                    "is {} bytes, the manifest says {}",
                    data.len(),
                    entry["bytes"]
                ),
            ));
        }
        if entry["sha256"].as_str() != Some(sha256(data).as_str()) {
            return Err(file(path, "its SHA-256 does not match the manifest"));
        }
        seen.insert(path.to_owned());
    }
    for path in files.keys() {
        if !seen.contains(path) && !UNLISTED.contains(&path.as_str()) {
            return Err(file(path, "is not listed in the manifest"));
        }
    }
    Ok(files.len())
}

pub(super) struct Chain {
    pub from: u64,
    pub to: u64,
    /// seq -> (event, hash recomputed from its line)
    pub events: BTreeMap<u64, AuditEvent>,
}

/// Recompute the chain over the exported events.
fn check_chain(
    files: &BTreeMap<String, Vec<u8>>,
    manifest: &Value,
    tenant_id: &str,
) -> Result<Chain, Failure> {
    let range = &manifest["audit_range"];
    let data = files
        .get(EVENTS_PATH)
        .ok_or_else(|| file(EVENTS_PATH, "is missing"))?;
    let mut events = BTreeMap::new();
    let mut prev: Option<(u64, String)> = None;
    let from = range["from_seq"].as_u64();
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let expected = prev.as_ref().map(|(s, _)| s + 1).or(from).unwrap_or(1);
        let hash = sha256(line);
        let value: Value = serde_json::from_slice(line).map_err(|_| Failure::Event {
            seq: expected,
            reason: format!("its line in {EVENTS_PATH} is not JSON"),
        })?;
        let mut with_hash = value.clone();
        with_hash["hash"] = Value::String(hash.clone());
        let event: AuditEvent = serde_json::from_value(with_hash).map_err(|_| Failure::Event {
            seq: expected,
            reason: "its line is not an audit event".into(),
        })?;
        let broken = |reason: String| Failure::Event {
            seq: event.seq,
            reason,
        };
        if event.seq != expected {
            return Err(if event.seq > expected {
                Failure::Event {
                    seq: expected,
                    reason: format!("is missing (the next line is event {})", event.seq),
                }
            } else {
                broken(format!("is out of order (expected event {expected})"))
            });
        }
        if canonical_json(&value) != line {
            return Err(broken(
                "its line is not the canonical form its hash is taken over".into(),
            ));
        }
        if event.tenant_id != tenant_id {
            return Err(broken(format!(
                "belongs to tenant {}, not {tenant_id}",
                event.tenant_id
            )));
        }
        match &prev {
            Some((p, h)) if event.prev_hash != *h => {
                return Err(broken(format!("prev_hash is not the hash of event {p}")));
            }
            None if event.seq == 1 && event.prev_hash != GENESIS_HASH => {
                return Err(broken("the first event's prev_hash is not 64 zeros".into()));
            }
            _ => {}
        }
        prev = Some((event.seq, hash));
        events.insert(event.seq, event);
    }
    let first = events.keys().next().copied();
    let last = events.keys().last().copied();
    if first != range["from_seq"].as_u64() || last != range["to_seq"].as_u64() {
        return Err(file(
            EVENTS_PATH,
            format!(
                "holds events {first:?} to {last:?}, the manifest's audit_range says {} to {}",
                range["from_seq"], range["to_seq"]
            ),
        ));
    }
    Ok(Chain {
        from: first.unwrap_or(0),
        to: last.unwrap_or(0),
        events,
    })
}

/// The key `key_id` from the pack, held to its id and to `trusted`.
fn key_of(
    files: &BTreeMap<String, Vec<u8>>,
    key_id: &str,
    trusted: Option<&[PublicKey]>,
) -> Result<PublicKey, String> {
    let pem = files
        .get(&key_path(key_id))
        .ok_or_else(|| format!("signed by key {key_id}, which is not in the pack"))?;
    let key = std::str::from_utf8(pem)
        .ok()
        .and_then(|t| PublicKey::all_from_pem(t).ok())
        .and_then(|mut k| (k.len() == 1).then(|| k.remove(0)))
        .ok_or_else(|| format!("{} is not one public key", key_path(key_id)))?;
    if key.id() != key_id {
        return Err(format!(
            "{} holds key {}, not the key its name says",
            key_path(key_id),
            key.id()
        ));
    }
    if let Some(trusted) = trusted
        && !trusted.contains(&key)
    {
        return Err(format!(
            "signed by key {key_id}, which is not a trusted key (--public-key)"
        ));
    }
    Ok(key)
}

/// Every checkpoint: its signature, its key, and that the chain passes
/// through its head; the last signs the last event. Answers the count and
/// the last checkpoint's key id.
fn check_checkpoints(
    files: &BTreeMap<String, Vec<u8>>,
    manifest: &Value,
    chain: &Chain,
    tenant_id: &str,
    trusted: Option<&[PublicKey]>,
) -> Result<usize, Failure> {
    let mut last: Option<Statement> = None;
    let mut count = 0;
    for (path, data) in files.range(CHECKPOINTS_DIR.to_owned()..) {
        let Some(name) = path.strip_prefix(CHECKPOINTS_DIR) else {
            break;
        };
        let Some(stem) = name.strip_suffix(".txt") else {
            continue;
        };
        let named: u64 = stem
            .parse()
            .map_err(|_| file(path, "is not named by a seq"))?;
        let bad = |reason: String| Failure::Checkpoint { seq: named, reason };
        let statement = std::str::from_utf8(data)
            .ok()
            .and_then(Statement::parse)
            .ok_or_else(|| bad(format!("{path} is not a checkpoint statement")))?;
        if statement.seq != named || path != &super::proof::statement_path(named) {
            return Err(bad(format!(
                "{path} holds the checkpoint of seq {}",
                statement.seq
            )));
        }
        if statement.tenant_id != tenant_id {
            return Err(bad(format!(
                "signed for tenant {}, not {tenant_id}",
                statement.tenant_id
            )));
        }
        let key = key_of(files, &statement.key_id, trusted).map_err(&bad)?;
        let signature = files
            .get(&signature_path(named))
            .ok_or_else(|| bad(format!("{} is missing", signature_path(named))))?;
        if !key.verifies(data, signature) {
            return Err(bad(format!(
                "its signature does not verify with {}",
                key_path(&statement.key_id)
            )));
        }
        match chain.events.get(&named) {
            Some(e) if e.hash == statement.head_hash => {}
            Some(e) => {
                return Err(bad(format!(
                    "the chain does not pass through the signed head: event {named} hashes to {}, the checkpoint signed {}",
                    e.hash, statement.head_hash
                )));
            }
            None => {
                return Err(bad(format!(
                    "signs event {named}, which is not in the exported range"
                )));
            }
        }
        count += 1;
        last = Some(statement);
    }
    let last = last.ok_or_else(|| {
        file(
            CHECKPOINTS_DIR,
            "holds no checkpoint: the exported events are unsigned",
        )
    })?;
    if last.seq != chain.to {
        return Err(Failure::Event {
            seq: chain.to,
            reason: format!(
                "the last exported event is not signed (the last checkpoint is {})",
                last.seq
            ),
        });
    }
    let named = &manifest["last_checkpoint"];
    if named["seq"].as_u64() != Some(last.seq)
        || named["head_hash"].as_str() != Some(last.head_hash.as_str())
    {
        return Err(file(
            "manifest.json",
            format!("its last_checkpoint is not checkpoint {}", last.seq),
        ));
    }
    Ok(count)
}
