//! What requests share, built once per cold start and never changed after:
//! [`Core`] (the contract, the store, the audit log), which every function
//! has, and the capabilities only some use, each in the state of the
//! functions that do: [`Sealing`] (the keys of tenant secrets), [`Notifying`]
//! (and the outbound client), [`Exporting`] (the object store). A router
//! names what it needs as `FromRef` bounds; `valdrix serve` and the tests
//! hand every router the [`AppState`] that holds them all.

use std::sync::Arc;

#[cfg(all(feature = "outbound", feature = "exports"))]
use crate::audit::checkpoint::DynSigner;
use crate::audit::{AuditLog, Redactor};
use crate::config::RuntimeConfig;
use crate::crypto::SecretBox;
use crate::store::DynStore;

/// The contract, the tenant store and the audit log over it.
#[derive(Clone)]
pub struct Core {
    pub config: Arc<RuntimeConfig>,
    pub store: DynStore,
    pub audit: AuditLog,
}

impl Core {
    /// The audit log redacts the contract's secret values from every record.
    pub fn new(config: Arc<RuntimeConfig>, store: DynStore) -> Self {
        let audit = AuditLog::new(store.clone(), Redactor::new(config.secret_values()));
        Self {
            config,
            store,
            audit,
        }
    }
}

/// [`Core`] and the keys that seal and open tenant secrets.
#[derive(Clone)]
pub struct Sealing {
    pub core: Core,
    pub keys: SecretBox,
}

impl Sealing {
    pub fn new(core: Core) -> Self {
        let keys = SecretBox::from_config(&core.config);
        Self { core, keys }
    }
}

/// [`Sealing`] and the outbound client: whoever calls the integrations.
#[cfg(feature = "outbound")]
#[derive(Clone)]
pub struct Notifying {
    pub core: Core,
    pub keys: SecretBox,
    pub integrations: crate::notify::Integrations,
}

#[cfg(feature = "outbound")]
impl Notifying {
    pub fn new(sealing: Sealing, integrations: crate::notify::Integrations) -> Self {
        Self {
            core: sealing.core,
            keys: sealing.keys,
            integrations,
        }
    }
}

/// The download links of packs, when this state has a pack store: `None`
/// answers the pack 503.
#[cfg(feature = "exports")]
#[derive(Clone)]
pub struct PackLinks(pub Option<crate::objects::DynLinks>);

/// Every capability at once: `valdrix serve` and the tests.
#[cfg(all(feature = "outbound", feature = "exports"))]
pub struct AppState {
    pub config: Arc<RuntimeConfig>,
    pub store: DynStore,
    pub audit: AuditLog,
    pub keys: SecretBox,
    pub integrations: crate::notify::Integrations,
    /// Where compliance packs are written; `None` answers the pack 503.
    pub objects: Option<crate::objects::DynObjectStore>,
    /// Signs audit checkpoints (a data-dir key under `valdrix serve`, a
    /// local key in tests); `None` answers the pack 503.
    pub audit_signer: Option<DynSigner>,
}

#[cfg(all(feature = "outbound", feature = "exports"))]
pub type SharedState = Arc<AppState>;

#[cfg(all(feature = "outbound", feature = "exports"))]
impl AppState {
    /// Production integrations, no object store.
    pub fn new(config: Arc<RuntimeConfig>, store: DynStore) -> SharedState {
        let integrations = crate::notify::Integrations::from_config(&config);
        Self::with(config, store, integrations, None)
    }

    /// Other integrations (local fake receivers), no object store.
    pub fn with_integrations(
        config: Arc<RuntimeConfig>,
        store: DynStore,
        integrations: crate::notify::Integrations,
    ) -> SharedState {
        Self::with(config, store, integrations, None)
    }

    /// Production integrations and an object store.
    pub fn with_objects(
        config: Arc<RuntimeConfig>,
        store: DynStore,
        objects: Option<crate::objects::DynObjectStore>,
    ) -> SharedState {
        let integrations = crate::notify::Integrations::from_config(&config);
        Self::with(config, store, integrations, objects)
    }

    /// Every part given.
    pub fn with(
        config: Arc<RuntimeConfig>,
        store: DynStore,
        integrations: crate::notify::Integrations,
        objects: Option<crate::objects::DynObjectStore>,
    ) -> SharedState {
        let core = Core::new(config, store);
        Arc::new(Self {
            keys: SecretBox::from_config(&core.config),
            config: core.config,
            store: core.store,
            audit: core.audit,
            integrations,
            objects,
            audit_signer: None,
        })
    }

    pub fn core(&self) -> Core {
        Core {
            config: self.config.clone(),
            store: self.store.clone(),
            audit: self.audit.clone(),
        }
    }

    pub fn notifying(&self) -> Notifying {
        Notifying {
            core: self.core(),
            keys: self.keys.clone(),
            integrations: self.integrations.clone(),
        }
    }
}

/// Which state gives which capability, for the routers' `FromRef` bounds.
#[cfg(feature = "http")]
mod from_ref {
    use axum::extract::FromRef;

    use super::*;

    /// `valdrix serve` and the tests: export jobs run as tasks of this process.
    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for crate::exports::queue::JobQueue {
        fn from_ref(s: &SharedState) -> Self {
            use crate::exports::queue::{InProcess, JobQueue, Worker};
            JobQueue(Arc::new(InProcess(Worker {
                store: s.store.clone(),
                audit: s.audit.clone(),
                objects: s.objects.clone(),
                signer: s.audit_signer.clone(),
            })))
        }
    }

    impl FromRef<Sealing> for Core {
        fn from_ref(s: &Sealing) -> Self {
            s.core.clone()
        }
    }

    impl FromRef<Sealing> for SecretBox {
        fn from_ref(s: &Sealing) -> Self {
            s.keys.clone()
        }
    }

    #[cfg(feature = "outbound")]
    impl FromRef<Notifying> for Core {
        fn from_ref(s: &Notifying) -> Self {
            s.core.clone()
        }
    }

    #[cfg(feature = "outbound")]
    impl FromRef<Notifying> for SecretBox {
        fn from_ref(s: &Notifying) -> Self {
            s.keys.clone()
        }
    }

    #[cfg(feature = "outbound")]
    impl FromRef<Notifying> for crate::notify::Integrations {
        fn from_ref(s: &Notifying) -> Self {
            s.integrations.clone()
        }
    }

    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for Core {
        fn from_ref(s: &SharedState) -> Self {
            s.core()
        }
    }

    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for Sealing {
        fn from_ref(s: &SharedState) -> Self {
            Sealing {
                core: s.core(),
                keys: s.keys.clone(),
            }
        }
    }

    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for Notifying {
        fn from_ref(s: &SharedState) -> Self {
            s.notifying()
        }
    }

    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for SecretBox {
        fn from_ref(s: &SharedState) -> Self {
            s.keys.clone()
        }
    }

    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for crate::notify::Integrations {
        fn from_ref(s: &SharedState) -> Self {
            s.integrations.clone()
        }
    }

    #[cfg(all(feature = "outbound", feature = "exports"))]
    impl FromRef<SharedState> for PackLinks {
        fn from_ref(s: &SharedState) -> Self {
            PackLinks(s.objects.clone().map(|o| o as crate::objects::DynLinks))
        }
    }
}
