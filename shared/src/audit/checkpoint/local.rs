//! The signing key of `valdrix serve`: a PKCS#8 file in the data dir, made
//! on first use with mode 0600 and never printed. Rotating it is moving the
//! file aside: the next start makes a new key, and the old public key stays
//! in the store's key registry with the checkpoints it signed.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use super::signer::{PublicKey, SignError, Signer};

pub struct LocalSigner {
    pair: EcdsaKeyPair,
    public: PublicKey,
    path: PathBuf,
}

impl LocalSigner {
    /// Open the key at `path`, creating it (0600) when absent. A key file
    /// that others may read is refused rather than used.
    pub fn open_or_create(path: &Path) -> Result<Self, SignError> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => {
                check_private(path)?;
                bytes
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(e) => return Err(unavailable(path, e)),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8)
            .map_err(|e| SignError::Invalid(format!("{}: {e}", path.display())))?;
        let der: PublicKeyX509Der = pair
            .public_key()
            .as_der()
            .map_err(|_| SignError::Invalid("cannot encode the public key".into()))?;
        let public = PublicKey::from_der(der.as_ref().to_vec())?;
        Ok(Self {
            pair,
            public,
            path: path.to_owned(),
        })
    }
}

fn unavailable(path: &Path, e: std::io::Error) -> SignError {
    SignError::Unavailable(format!("{}: {e}", path.display()))
}

fn create(path: &Path) -> Result<Vec<u8>, SignError> {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .map_err(|_| SignError::Unavailable("cannot generate a key".into()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(path, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| unavailable(path, e))?;
    file.write_all(doc.as_ref())
        .and_then(|()| file.sync_all())
        .map_err(|e| unavailable(path, e))?;
    Ok(doc.as_ref().to_vec())
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), SignError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| unavailable(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SignError::Invalid(format!(
            "{} is readable by others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), SignError> {
    Ok(())
}

#[async_trait]
impl Signer for LocalSigner {
    async fn public_key(&self) -> Result<PublicKey, SignError> {
        Ok(self.public.clone())
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SignError::Unavailable(format!("{}: signing failed", self.path.display())))
    }

    fn key_ref(&self) -> String {
        "local".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_key_is_private_signs_and_opens_again_as_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/audit-signing-key.p8");
        let signer = LocalSigner::open_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public = signer.public_key().await.unwrap();
        let sig = signer.sign(b"statement").await.unwrap();
        assert!(public.verifies(b"statement", &sig));
        assert!(!public.verifies(b"statement.", &sig));
        let again = LocalSigner::open_or_create(&path).unwrap();
        assert_eq!(again.public_key().await.unwrap().id(), public.id());
        // The PEM round-trips to the same key id.
        let parsed = PublicKey::all_from_pem(&public.pem()).unwrap();
        assert_eq!(parsed, vec![public]);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.p8");
        LocalSigner::open_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Err(e) = LocalSigner::open_or_create(&path) else {
            panic!("a world-readable key was used");
        };
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}
