//! The health function: `GET /health` (config + one store round trip) and
//! `GET /health/live` (touches nothing). Public, cheap, and free of secrets
//! and raw error text.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use valdrix_shared::state::SharedState;

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .with_state(state)
}

async fn live() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

async fn health(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    let started = Instant::now();
    let store = match state.store.ping().await {
        Ok(()) => json!({"status": "up", "latency_ms": started.elapsed().as_millis() as u64}),
        Err(e) => {
            tracing::error!(error = %e, "health: store check failed");
            json!({"status": "down", "latency_ms": started.elapsed().as_millis() as u64})
        }
    };
    let healthy = store["status"] == "up";
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "checks": {
            // The contract was validated at cold start; a broken one never serves.
            "config": {"status": "valid", "environment": state.config.environment},
            "store": store,
        },
        "failing": if healthy { json!([]) } else { json!(["store"]) },
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
