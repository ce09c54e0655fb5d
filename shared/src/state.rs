//! `AppState`: built once per cold start, shared by every invocation.

use std::sync::Arc;

use crate::audit::checkpoint::DynSigner;
use crate::audit::{AuditLog, Redactor};
use crate::config::{RuntimeConfig, StoreUrl};
use crate::crypto::SecretBox;
use crate::notify::Integrations;
use crate::objects::DynObjectStore;
use crate::store::{self, DynStore, StoreError};

pub struct AppState {
    pub config: Arc<RuntimeConfig>,
    pub store: DynStore,
    pub audit: AuditLog,
    /// Seals and opens tenant integration secrets.
    pub keys: SecretBox,
    /// The outbound client and vendor endpoints of every integration call.
    pub integrations: Integrations,
    /// Dispatch accepted policy deliveries in this process (`valdrix serve`);
    /// in AWS the table's stream triggers the dispatcher function instead.
    pub inline_dispatch: bool,
    /// Where compliance packs are written (S3 in AWS, a directory locally);
    /// `None` where nothing exports. Set with [`AppState::with_objects`].
    pub objects: Option<DynObjectStore>,
    /// Signs audit checkpoints (KMS in AWS, a data-dir key under `valdrix
    /// serve`); `None` in a function that writes none.
    pub audit_signer: Option<DynSigner>,
}

pub type SharedState = Arc<AppState>;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("DATABASE_URL is not set: there is no tenant store to open")]
    NoStore,
    #[error("cannot open the tenant store: {0}")]
    Store(#[from] StoreError),
}

impl AppState {
    /// Open the store named by the contract and build everything requests share.
    pub async fn init(config: Arc<RuntimeConfig>) -> Result<SharedState, InitError> {
        let url: &StoreUrl = config.store.as_ref().ok_or(InitError::NoStore)?;
        let store = store::open(url).await?;
        Ok(Self::new(config, store))
    }

    pub fn new(config: Arc<RuntimeConfig>, store: DynStore) -> SharedState {
        Self::with_objects(config, store, None)
    }

    /// [`AppState::new`] plus an object store.
    pub fn with_objects(
        config: Arc<RuntimeConfig>,
        store: DynStore,
        objects: Option<DynObjectStore>,
    ) -> SharedState {
        let redactor = Redactor::new(config.secret_values());
        let audit = AuditLog::new(store.clone(), redactor);
        let keys = SecretBox::from_config(&config);
        let integrations = Integrations::from_config(&config);
        Arc::new(Self {
            config,
            store,
            audit,
            keys,
            integrations,
            inline_dispatch: false,
            objects,
            audit_signer: None,
        })
    }
}
