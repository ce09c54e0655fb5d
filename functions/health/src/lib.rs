//! The health function's router: `GET /health` and `GET /health/live`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};
use valdrix_shared::config::RuntimeConfig;

pub fn router(config: Arc<RuntimeConfig>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .with_state(config)
}

/// Liveness: touches nothing.
async fn live() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

async fn health(State(config): State<Arc<RuntimeConfig>>) -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "checks": {"config": {"status": "valid", "environment": config.environment}},
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
}
