//! The key that signs checkpoints: a [`Signer`] the functions may use but
//! never read. One algorithm everywhere, the one AWS KMS (and moto) sign with
//! for an `ECC_NIST_P256` key: ECDSA over SHA-256 of the raw message, the
//! signature DER-encoded — what `openssl dgst -sha256 -verify` checks.

use async_trait::async_trait;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The KMS key spec and signing algorithm (template.yaml creates the key so).
pub const KEY_SPEC: &str = "ECC_NIST_P256";
pub const SIGNING_ALGORITHM: &str = "ECDSA_SHA_256";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signing service or key file could not be used.
    #[error("the audit signing key is unavailable: {0}")]
    Unavailable(String),
    /// The key is not the documented kind.
    #[error("the audit signing key is unusable: {0}")]
    Invalid(String),
}

/// A public key as X.509 SubjectPublicKeyInfo DER (what KMS's GetPublicKey
/// returns and `openssl pkey -pubin -outform DER` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    der: Vec<u8>,
}

impl PublicKey {
    /// Refuses anything that is not a P-256 public key.
    pub fn from_der(der: Vec<u8>) -> Result<Self, SignError> {
        // A P-256 SubjectPublicKeyInfo is 91 bytes (a bare point is 65).
        if der.len() != 91 || ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der).is_err() {
            return Err(SignError::Invalid("not an ECDSA P-256 public key".into()));
        }
        Ok(Self { der })
    }

    /// Every `PUBLIC KEY` block of a PEM text.
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>, SignError> {
        let mut keys = Vec::new();
        let mut body: Option<String> = None;
        for line in text.lines().map(str::trim) {
            match (line, &mut body) {
                ("-----BEGIN PUBLIC KEY-----", None) => body = Some(String::new()),
                ("-----END PUBLIC KEY-----", Some(b)) => {
                    let der = STANDARD
                        .decode(b.as_bytes())
                        .map_err(|_| SignError::Invalid("a PEM block is not base64".into()))?;
                    keys.push(Self::from_der(der)?);
                    body = None;
                }
                (l, Some(b)) => b.push_str(l),
                _ => {}
            }
        }
        if keys.is_empty() {
            return Err(SignError::Invalid("no PUBLIC KEY block".into()));
        }
        Ok(keys)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The key's id: lowercase hex SHA-256 of its DER, so anyone can
    /// recompute it (`openssl pkey -pubin -in K.pem -outform DER | sha256sum`).
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    pub fn pem(&self) -> String {
        let b64 = STANDARD.encode(&self.der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    /// Whether `signature` (DER) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.der)
            .verify(message, signature)
            .is_ok()
    }
}

/// Signs checkpoint statements; the private key never leaves it.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The public half of the key it signs with now.
    async fn public_key(&self) -> Result<PublicKey, SignError>;
    /// ECDSA P-256 over SHA-256 of `message`, DER-encoded.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// Where the key lives, for the key registry: a KMS key ARN, or `local`.
    fn key_ref(&self) -> String;
}

pub type DynSigner = std::sync::Arc<dyn Signer>;
