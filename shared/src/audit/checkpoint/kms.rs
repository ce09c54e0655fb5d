//! The signing key in AWS: an asymmetric KMS key (`ECC_NIST_P256`,
//! `SIGN_VERIFY`) that template.yaml creates and lets only the checkpoint
//! writers use. The private key never leaves KMS.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use tokio::sync::OnceCell;

use super::signer::{KEY_SPEC, PublicKey, SIGNING_ALGORITHM, SignError, Signer};

pub struct KmsSigner {
    client: Client,
    key_id: String,
    /// GetPublicKey once per cold start.
    public: OnceCell<PublicKey>,
}

impl KmsSigner {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            public: OnceCell::new(),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> SignError {
    SignError::Unavailable(format!("KMS: {e}"))
}

#[async_trait]
impl Signer for KmsSigner {
    async fn public_key(&self) -> Result<PublicKey, SignError> {
        self.public
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_public_key()
                    .key_id(&self.key_id)
                    .send()
                    .await
                    .map_err(|e| unavailable(aws_sdk_kms::error::DisplayErrorContext(e)))?;
                // The DER is held to P-256 below; the key must sign with ECDSA_SHA_256.
                let algorithms = out.signing_algorithms();
                if !algorithms.contains(&SigningAlgorithmSpec::EcdsaSha256) {
                    return Err(SignError::Invalid(format!(
                        "{} signs with {algorithms:?}, not {SIGNING_ALGORITHM} ({KEY_SPEC})",
                        self.key_id
                    )));
                }
                let der = out
                    .public_key()
                    .ok_or_else(|| unavailable("GetPublicKey returned no key"))?;
                PublicKey::from_der(der.as_ref().to_vec())
            })
            .await
            .cloned()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_kms::error::DisplayErrorContext(e)))?;
        out.signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| unavailable("Sign returned no signature"))
    }

    fn key_ref(&self) -> String {
        self.key_id.clone()
    }
}
