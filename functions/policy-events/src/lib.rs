//! The policy-events function: the policy engine reports a decision (admin
//! key); it is accepted durably with one pending delivery per target (202),
//! and anyone entitled can read its delivery state. The deliveries move on
//! from the table's stream (the dispatcher function; `valdrix serve`
//! dispatches them in-process itself).

use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use valdrix_shared::auth::{AdminKey, AdminOrOwner};
use valdrix_shared::http::{ApiError, ApiJson};
use valdrix_shared::policy::{self, Accepted, EventState, PolicyEventInput};
use valdrix_shared::state::Core;

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
{
    Router::new()
        .route(policy::EVENTS_PATH, post(accept))
        .route("/api/v1/policy/events/{event_id}", get(read))
        .with_state(state)
}

fn view(state: &EventState) -> Value {
    let mut body = serde_json::to_value(&state.event).unwrap_or_default();
    body["deliveries"] = state
        .deliveries
        .iter()
        .map(|(d, _)| {
            json!({
                "delivery_id": d.delivery_id, "channel": d.channel, "target": d.target,
                "status": d.status, "attempts": d.attempts, "external_id": d.external_id,
            })
        })
        .collect();
    body
}

async fn accept(
    State(state): State<Core>,
    _: AdminKey,
    ApiJson(input): ApiJson<PolicyEventInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match policy::accept(state.store.as_ref(), &state.audit, input).await? {
        Accepted::Created(created) => Ok((StatusCode::ACCEPTED, Json(view(&created)))),
        Accepted::Existing(existing) => Ok((StatusCode::OK, Json(view(&existing)))),
    }
}

/// The operator (admin key) or an admin/owner of the event's tenant.
enum Reader {
    Operator,
    Tenant(String),
}

impl<S> FromRequestParts<S> for Reader
where
    Core: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts
            .headers
            .contains_key(valdrix_shared::auth::ADMIN_KEY_HEADER)
        {
            AdminKey::from_request_parts(parts, state).await?;
            return Ok(Self::Operator);
        }
        let AdminOrOwner(user) = AdminOrOwner::from_request_parts(parts, state).await?;
        Ok(Self::Tenant(user.tenant_id))
    }
}

async fn read(
    State(state): State<Core>,
    reader: Reader,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound(format!("policy event {event_id} not found"));
    let found = policy::load_state(state.store.as_ref(), &event_id)
        .await?
        .ok_or_else(not_found)?;
    // Another tenant's event is answered exactly like a missing one.
    if let Reader::Tenant(tenant) = reader
        && tenant != found.event.tenant_id
    {
        return Err(not_found());
    }
    Ok(Json(view(&found)))
}
