//! The policy-events function: the policy engine reports a decision (admin
//! key); it is accepted durably with one pending delivery per target (202),
//! and anyone entitled can read its delivery state.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use valdrix_shared::auth::{AdminKey, AdminOrOwner};
use valdrix_shared::http::{ApiError, ApiJson};
use valdrix_shared::policy::{self, Accepted, EventState, PolicyEventInput};
use valdrix_shared::state::SharedState;

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/api/v1/policy/events", post(accept))
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
    State(state): State<SharedState>,
    _: AdminKey,
    ApiJson(input): ApiJson<PolicyEventInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match policy::accept(state.store.as_ref(), &state.audit, input).await? {
        Accepted::Created(created) => {
            if state.inline_dispatch {
                let channels = created.deliveries.iter().map(|(d, _)| d.channel).collect();
                tokio::spawn(policy::send::dispatch_inline(
                    state.clone(),
                    created.event.event_id.clone(),
                    channels,
                ));
            }
            Ok((StatusCode::ACCEPTED, Json(view(&created))))
        }
        Accepted::Existing(existing) => Ok((StatusCode::OK, Json(view(&existing)))),
    }
}

/// The operator (admin key) or an admin/owner of the event's tenant.
enum Reader {
    Operator,
    Tenant(String),
}

impl FromRequestParts<SharedState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
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
    State(state): State<SharedState>,
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
