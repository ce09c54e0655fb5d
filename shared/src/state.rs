//! `AppState`: built once per cold start, shared by every invocation.

use std::sync::Arc;

use crate::config::RuntimeConfig;
use crate::store::DynStore;

pub struct AppState {
    pub config: Arc<RuntimeConfig>,
    pub store: DynStore,
}

pub type SharedState = Arc<AppState>;
