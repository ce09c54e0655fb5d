//! Every function's router on one app, as API Gateway would route them.

use axum::Router;
use valdrix_shared::state::SharedState;

pub fn app(state: SharedState) -> Router {
    let routes = Router::new()
        .merge(health::router(state.clone()))
        .merge(admin::router(state.clone()))
        .merge(notification_settings::router(state.clone()))
        .merge(notification_test::router(state.clone()))
        .merge(evidence::router(state.clone()))
        .merge(policy_events::router(state.clone()))
        .merge(compliance_export::router(state.clone()));
    valdrix_shared::http::layers(routes, &state.config)
}
