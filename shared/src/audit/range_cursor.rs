//! The cursor a bounded verification hands its caller: where the walk
//! resumes (the last event verified and its hash), MAC'd with a key only the
//! functions hold and bound to the tenant, so a client cannot forge "verified
//! up to" nor carry a cursor to another tenant. It expires after
//! [`CURSOR_TTL_SECS`]: a cursor says the events before it were intact then.
//!
//! Text form: base64url(payload JSON ‖ HMAC-SHA256(tenant ‖ 0 ‖ payload)).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Resume;
use crate::config::RuntimeConfig;

/// A walk of 100 000 events takes 20 requests; an hour leaves room for pauses.
pub const CURSOR_TTL_SECS: i64 = 3600;
/// Longest cursor text taken (docs/openapi.yaml says the same).
pub const MAX_CURSOR_LEN: usize = 1024;
const MAC_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadCursor {
    #[error("cursor is not one this verification handed out")]
    Invalid,
    #[error("cursor has expired; verify again from the start")]
    Expired,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    seq: u64,
    hash: String,
    issued: i64,
}

/// The MAC key: HKDF-SHA256(ENCRYPTION_KEY, salt = KDF_SALT, info =
/// "valdrix/audit-verify-cursor/v1"); it rotates with the encryption key.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn from_config(config: &RuntimeConfig) -> Self {
        let hk = Hkdf::<Sha256>::new(
            Some(config.kdf_salt.expose_secret().as_slice()),
            config.encryption_key.expose_secret().as_bytes(),
        );
        let mut key = [0u8; 32];
        hk.expand(b"valdrix/audit-verify-cursor/v1", &mut key)
            .expect("32 bytes is a valid HKDF length");
        Self(key)
    }

    fn mac(&self, tenant_id: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(tenant_id.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    pub fn encode(&self, tenant_id: &str, at: &Resume, now: DateTime<Utc>) -> String {
        let payload = serde_json::to_vec(&Payload {
            seq: at.seq,
            hash: at.hash.clone(),
            issued: now.timestamp(),
        })
        .expect("cursor serializes");
        let tag = self.mac(tenant_id, &payload).finalize().into_bytes();
        let mut bytes = payload;
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(
        &self,
        tenant_id: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Resume, BadCursor> {
        if text.len() > MAX_CURSOR_LEN {
            return Err(BadCursor::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| BadCursor::Invalid)?;
        let split = bytes.len().checked_sub(MAC_LEN).ok_or(BadCursor::Invalid)?;
        let (payload, tag) = bytes.split_at(split);
        self.mac(tenant_id, payload)
            .verify_slice(tag)
            .map_err(|_| BadCursor::Invalid)?;
        let p: Payload = serde_json::from_slice(payload).map_err(|_| BadCursor::Invalid)?;
        if now.timestamp() - p.issued > CURSOR_TTL_SECS {
            return Err(BadCursor::Expired);
        }
        Ok(Resume {
            seq: p.seq,
            hash: p.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CursorKey {
        CursorKey([n; 32])
    }

    #[test]
    fn a_cursor_opens_only_for_its_tenant_key_and_time() {
        let now = Utc::now();
        let at = Resume {
            seq: 5000,
            hash: "ab".repeat(32),
        };
        let text = key(1).encode("acme", &at, now);
        assert!(text.len() <= MAX_CURSOR_LEN);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        );
        assert_eq!(key(1).decode("acme", &text, now), Ok(at));
        assert_eq!(key(1).decode("other", &text, now), Err(BadCursor::Invalid));
        assert_eq!(key(2).decode("acme", &text, now), Err(BadCursor::Invalid));
        let later = now + chrono::Duration::seconds(CURSOR_TTL_SECS + 1);
        assert_eq!(key(1).decode("acme", &text, later), Err(BadCursor::Expired));
    }

    #[test]
    fn a_changed_seq_or_hash_is_refused() {
        let now = Utc::now();
        let at = Resume {
            seq: 5000,
            hash: "ab".repeat(32),
        };
        let mut bytes = URL_SAFE_NO_PAD
            .decode(key(1).encode("acme", &at, now))
            .unwrap();
        let forged = String::from_utf8_lossy(&bytes[..bytes.len() - MAC_LEN])
            .replace("5000", "9000")
            .into_bytes();
        let tag = bytes.split_off(bytes.len() - MAC_LEN);
        let text = URL_SAFE_NO_PAD.encode([forged, tag].concat());
        assert_eq!(key(1).decode("acme", &text, now), Err(BadCursor::Invalid));
        let long = "A".repeat(MAX_CURSOR_LEN + 1);
        for garbage in ["", "%%", "e30", long.as_str()] {
            assert_eq!(key(1).decode("acme", garbage, now), Err(BadCursor::Invalid));
        }
    }
}
