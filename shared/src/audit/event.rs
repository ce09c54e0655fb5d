//! The audit event and its canonical encoding.
//!
//! `hash = hex(SHA-256(canonical JSON of the event without "hash"))`, where the
//! canonical JSON is the event object with object keys sorted by byte order at
//! every depth, no insignificant whitespace, and strings escaped as JSON
//! requires (RFC 8785's form for the integer-only values we store). The object
//! includes `seq` and `prev_hash`, so each event commits to the whole chain
//! before it. `docs/audit_chain.md` shows an auditor how to recompute it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Actor {
    User { user_id: String, email: String },
    System,
    AdminKey,
}

/// What a writer supplies; the log adds id, seq, timestamp and the chain links.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: String,
    pub event_type: String,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub resource: Option<String>,
    pub success: bool,
    /// Redacted before hashing; never put a secret here on purpose.
    pub details: Value,
}

/// One link of a tenant's chain, exactly as hashed (`hash` aside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub tenant_id: String,
    pub seq: u64,
    pub event_type: String,
    /// UTC, RFC 3339 with `Z`, millisecond precision.
    pub timestamp: String,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub resource: Option<String>,
    pub success: bool,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// The hash this event should carry, recomputed from its content.
    pub fn compute_hash(&self) -> String {
        let mut body = serde_json::to_value(self).expect("audit event serializes");
        if let Value::Object(map) = &mut body {
            map.remove("hash");
        }
        hex::encode(Sha256::digest(canonical_json(&body)))
    }
}

/// Keys sorted at every depth, compact. serde_json's map is ordered by key
/// (the `preserve_order` feature is off), so plain serialization is canonical.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> AuditEvent {
        let mut e = AuditEvent {
            id: "0193a1b2-0000-7000-8000-000000000001".into(),
            tenant_id: "acme".into(),
            seq: 1,
            event_type: "tenant.created".into(),
            timestamp: "2026-11-27T08:00:00.000Z".into(),
            actor: Actor::AdminKey,
            request_id: Some("req-1".into()),
            resource: Some("tenant/acme".into()),
            success: true,
            details: json!({"tier": "pro", "name": "Acme"}),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    #[test]
    fn canonical_form_sorts_keys_without_whitespace() {
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
        assert_eq!(
            String::from_utf8(canonical_json(&v)).unwrap(),
            r#"{"a":{"c":"x","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn hash_is_sha256_of_the_documented_encoding() {
        let e = event();
        let expected_input = concat!(
            r#"{"actor":{"kind":"admin-key"},"details":{"name":"Acme","tier":"pro"},"#,
            r#""event_type":"tenant.created","id":"0193a1b2-0000-7000-8000-000000000001","#,
            r#""prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","#,
            r#""request_id":"req-1","resource":"tenant/acme","seq":1,"success":true,"#,
            r#""tenant_id":"acme","timestamp":"2026-11-27T08:00:00.000Z"}"#
        );
        assert_eq!(
            e.hash,
            hex::encode(Sha256::digest(expected_input.as_bytes()))
        );
    }

    #[test]
    fn any_change_changes_the_hash() {
        let e = event();
        let mut changed = e.clone();
        changed.success = false;
        assert_ne!(changed.compute_hash(), e.hash);
        let mut changed = e.clone();
        changed.seq = 2;
        assert_ne!(changed.compute_hash(), e.hash);
    }
}
