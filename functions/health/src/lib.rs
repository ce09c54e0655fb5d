//! The health function: `GET /health` (config, the forecaster waiver's time
//! left, and the store check, cached: `store_check`) and `GET /health/live`
//! (touches nothing). Public, cheap, and free of secrets and raw error text.

mod store_check;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use valdrix_shared::state::Core;
use valdrix_shared::waiver;

use store_check::StoreCheck;
pub use store_check::TTL as STORE_CHECK_TTL;

#[derive(Clone)]
struct Health {
    app: Core,
    store_check: Arc<StoreCheck>,
}

/// The routes, with the store check cached for [`STORE_CHECK_TTL`].
pub fn router<S>(state: S) -> Router
where
    Core: FromRef<S>,
{
    router_with_ttl(state, STORE_CHECK_TTL)
}

/// The routes with another cache lifetime (zero: every call checks).
pub fn router_with_ttl<S>(state: S, ttl: Duration) -> Router
where
    Core: FromRef<S>,
{
    let health = Health {
        app: Core::from_ref(&state),
        store_check: Arc::new(StoreCheck::new(ttl)),
    };
    Router::new()
        .route("/health", get(health_report))
        .route("/health/live", get(live))
        .with_state(health)
}

async fn live() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

async fn health_report(State(health): State<Health>) -> (StatusCode, Json<Value>) {
    let checked = health.store_check.run(health.app.store.as_ref()).await;
    let mut checks = json!({
        // The contract was validated at cold start; a broken one never serves.
        "config": {"status": "valid", "environment": health.app.config.environment},
        "store": {
            "status": if checked.up { "up" } else { "down" },
            "latency_ms": checked.latency_ms,
            "age_ms": checked.age_ms(),
        },
    });
    // A waiver with time left is healthy; inside 48 h it says `expiring`.
    if let Some(w) = waiver::waiver(&health.app.config, chrono::Utc::now()) {
        checks["forecaster_waiver"] = w.health();
    }
    let body = json!({
        "status": if checked.up { "healthy" } else { "unhealthy" },
        "checks": checks,
        "failing": if checked.up { json!([]) } else { json!(["store"]) },
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let status = if checked.up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
