//! Tenant integration secrets at rest: AES-256-GCM under a key derived with
//! HKDF-SHA256 from `ENCRYPTION_KEY` (salt `KDF_SALT`, info = purpose).
//!
//! Ciphertext text form: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
//! The key id (a hash of the derived key, not the key) says which key sealed
//! it, so retired keys in `ENCRYPTION_KEY_FALLBACKS` can still open old values
//! while new ones are sealed under the current key. The associated data binds
//! each value to its tenant and field: a ciphertext copied to another tenant or
//! field does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::RuntimeConfig;

const VERSION: &str = "v1";
const PURPOSE: &[u8] = b"valdrix/tenant-integration-secrets/v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("no configured key has id {0}")]
    UnknownKey(String),
    #[error(
        "ciphertext does not open under its key (tampered, or bound to another tenant or field)"
    )]
    Tampered,
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn derive(master: &str, salt: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(salt), master.as_bytes());
        let mut okm = [0u8; 32];
        hk.expand(PURPOSE, &mut okm)
            .expect("32 bytes is a valid HKDF length");
        let id = hex::encode(&Sha256::digest([b"valdrix-key-id:".as_slice(), &okm].concat())[..6]);
        let cipher = Aes256Gcm::new_from_slice(&okm).expect("32-byte key");
        Self { id, cipher }
    }
}

/// The current key and every retired one that may still open old values.
/// Cloning shares the derived keys.
#[derive(Clone)]
pub struct SecretBox {
    current: std::sync::Arc<Key>,
    fallbacks: std::sync::Arc<[Key]>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SecretBox(current key {}, {} fallback(s))",
            self.current.id,
            self.fallbacks.len()
        )
    }
}

fn aad(tenant_id: &str, field: &str) -> Vec<u8> {
    format!("tenant={tenant_id};field={field}").into_bytes()
}

impl SecretBox {
    pub fn from_config(config: &RuntimeConfig) -> Self {
        let salt = config.kdf_salt.expose_secret();
        Self {
            current: Key::derive(config.encryption_key.expose_secret(), salt).into(),
            fallbacks: config
                .encryption_key_fallbacks
                .iter()
                .map(|k| Key::derive(k.expose_secret(), salt))
                .collect(),
        }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seal `plaintext` for one tenant's field under the current key.
    pub fn seal(&self, tenant_id: &str, field: &str, plaintext: &SecretString) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: &aad(tenant_id, field),
                },
            )
            .expect("AES-GCM encryption cannot fail for small inputs");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!(
            "{VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(blob)
        )
    }

    pub fn open(
        &self,
        tenant_id: &str,
        field: &str,
        text: &str,
    ) -> Result<SecretString, CryptoError> {
        let mut parts = text.splitn(3, '.');
        let (Some(VERSION), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let key = std::iter::once(self.current.as_ref())
            .chain(self.fallbacks.iter())
            .find(|k| k.id == kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))?;
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(tenant_id, field),
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Malformed)
    }

    /// True when `text` was sealed under a retired key (rotation re-seals it).
    pub fn needs_rotation(&self, text: &str) -> bool {
        text.split('.')
            .nth(1)
            .is_some_and(|kid| kid != self.current.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(key: &str, fallbacks: &[&str]) -> SecretBox {
        let salt = [9u8; 32];
        SecretBox {
            current: Key::derive(key, &salt).into(),
            fallbacks: fallbacks.iter().map(|k| Key::derive(k, &salt)).collect(),
        }
    }

    const K1: &str = "k1-0123456789abcdef0123456789abcdef";
    const K2: &str = "k2-fedcba9876543210fedcba9876543210";

    #[test]
    fn round_trip_and_fresh_nonce_each_time() {
        let b = boxed(K1, &[]);
        let s = SecretString::from("xoxb-planted-token");
        let a = b.seal("acme", "jira_api_token", &s);
        let c = b.seal("acme", "jira_api_token", &s);
        assert_ne!(a, c);
        assert!(!a.contains("xoxb"));
        assert_eq!(
            b.open("acme", "jira_api_token", &a)
                .unwrap()
                .expose_secret(),
            "xoxb-planted-token"
        );
    }

    #[test]
    fn bound_to_tenant_and_field() {
        let b = boxed(K1, &[]);
        let sealed = b.seal("acme", "jira_api_token", &SecretString::from("t"));
        assert_eq!(
            b.open("globex", "jira_api_token", &sealed).unwrap_err(),
            CryptoError::Tampered
        );
        assert_eq!(
            b.open("acme", "workflow_github_token", &sealed)
                .unwrap_err(),
            CryptoError::Tampered
        );
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let b = boxed(K1, &[]);
        let sealed = b.seal("acme", "f", &SecretString::from("secret"));
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            b.open("acme", "f", &String::from_utf8(bytes).unwrap())
                .unwrap_err(),
            CryptoError::Tampered
        );
        for bad in ["", "v1", "v2.abc.def", "v1.abc.!!!", "v1.abc.AAAA"] {
            assert!(b.open("acme", "f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fallback_keys_open_old_values_and_rotation_is_detected() {
        let old = boxed(K1, &[]);
        let sealed = old.seal("acme", "f", &SecretString::from("v"));
        let rotated = boxed(K2, &[K1]);
        assert_eq!(
            rotated.open("acme", "f", &sealed).unwrap().expose_secret(),
            "v"
        );
        assert!(rotated.needs_rotation(&sealed));
        let resealed = rotated.seal("acme", "f", &SecretString::from("v"));
        assert!(!rotated.needs_rotation(&resealed));
        // Without the fallback the old value names its unknown key.
        let new_only = boxed(K2, &[]);
        assert!(matches!(
            new_only.open("acme", "f", &sealed),
            Err(CryptoError::UnknownKey(_))
        ));
    }
}
