//! The admin function: operator provisioning behind `X-Admin-Key`, and
//! `GET /api/v1/me`, the web UI's first call.

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::auth::{AdminKey, CurrentUser};
use valdrix_shared::http::{ApiError, ApiJson, RequestId};
use valdrix_shared::state::Core;
use valdrix_shared::tenancy::{self, ChangeContext, Membership, Tenant};

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
{
    Router::new()
        .route("/api/v1/admin/tenants", post(create_tenant))
        .route("/api/v1/admin/tenants/{tenant_id}", get(get_tenant))
        .route("/api/v1/admin/tenants/{tenant_id}/tier", put(set_tier))
        .route(
            "/api/v1/admin/tenants/{tenant_id}/members/{user_id}",
            put(put_member).delete(remove_member),
        )
        .route("/api/v1/me", get(me))
        .with_state(state)
}

fn admin_context(request_id: RequestId) -> ChangeContext {
    ChangeContext {
        actor: Actor::AdminKey,
        request_id: Some(request_id.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: Option<String>,
    name: String,
    tier: String,
}

async fn create_tenant(
    State(state): State<Core>,
    _: AdminKey,
    request_id: RequestId,
    ApiJson(body): ApiJson<NewTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tier = tenancy::parse_tier(&body.tier)?;
    let tenant = tenancy::create_tenant(
        &state.audit,
        body.id,
        &body.name,
        tier,
        &admin_context(request_id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

async fn get_tenant(
    State(state): State<Core>,
    _: AdminKey,
    Path(tenant_id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    tenancy::get_tenant(state.store.as_ref(), &tenant_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id} not found")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierChange {
    tier: String,
}

async fn set_tier(
    State(state): State<Core>,
    _: AdminKey,
    request_id: RequestId,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<TierChange>,
) -> Result<Json<Tenant>, ApiError> {
    let tier = tenancy::parse_tier(&body.tier)?;
    let tenant = tenancy::set_tier(
        state.store.as_ref(),
        &state.audit,
        &tenant_id,
        tier,
        &admin_context(request_id),
    )
    .await?;
    Ok(Json(tenant))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberChange {
    role: String,
    email: String,
}

async fn put_member(
    State(state): State<Core>,
    _: AdminKey,
    request_id: RequestId,
    Path((tenant_id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberChange>,
) -> Result<Json<Membership>, ApiError> {
    let role = tenancy::parse_role(&body.role)?;
    let membership = tenancy::put_member(
        state.store.as_ref(),
        &state.audit,
        &tenant_id,
        &user_id,
        role,
        &body.email,
        &admin_context(request_id),
    )
    .await?;
    Ok(Json(membership))
}

async fn remove_member(
    State(state): State<Core>,
    _: AdminKey,
    request_id: RequestId,
    Path((tenant_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    tenancy::remove_member(
        state.store.as_ref(),
        &state.audit,
        &tenant_id,
        &user_id,
        &admin_context(request_id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(user: CurrentUser) -> Json<Value> {
    Json(json!({
        "user_id": user.user_id,
        "email": user.email,
        "tenant_id": user.tenant_id,
        "role": user.role,
        "tier": user.tier,
    }))
}
