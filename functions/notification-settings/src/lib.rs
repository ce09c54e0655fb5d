//! The notification-settings function: read (any member) and update (admin or
//! owner) a tenant's Slack, Jira and workflow settings.

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use valdrix_shared::audit::Actor;
use valdrix_shared::auth::{AdminOrOwner, CurrentUser};
use valdrix_shared::http::{ApiError, ApiJson, RequestId};
use valdrix_shared::outbound::ssrf::Policy;
use valdrix_shared::settings::{self, Precondition, SettingsUpdate, UpdateContext};
use valdrix_shared::state::{Core, Sealing};
use valdrix_shared::tenancy::ChangeContext;
use valdrix_shared::validate;

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
    Sealing: FromRef<S>,
{
    Router::new()
        .route("/api/v1/settings/notifications", get(read).put(update))
        .with_state(state)
}

fn with_etag(body: serde_json::Value, version: u64) -> Response {
    let mut res = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

async fn read(State(core): State<Core>, user: CurrentUser) -> Result<Response, ApiError> {
    let (current, version) = settings::load(core.store.as_ref(), &user.tenant_id).await?;
    Ok(with_etag(current.view(version), version))
}

/// `If-Match: "3"` (also `W/"3"` and a bare `3`): exactly the header's
/// documented pattern, nothing a lenient parser would also take.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let version = raw.to_str().ok().and_then(validate::etag_version);
    version.map(Some).ok_or_else(|| {
        ApiError::invalid_field(
            "If-Match",
            "must be the ETag of a previous read, e.g. \"3\"",
        )
    })
}

/// The version the caller last read: `If-Match` or the body's `version`.
fn precondition(headers: &HeaderMap, body: Option<u64>) -> Result<Precondition, ApiError> {
    match (if_match(headers)?, body) {
        (Some(h), Some(b)) if h != b => Err(ApiError::invalid_field(
            "version",
            "disagrees with If-Match",
        )),
        (Some(h), _) => Ok(Precondition::IfMatch(h)),
        (None, Some(b)) => Ok(Precondition::BodyVersion(b)),
        (None, None) => Ok(Precondition::None),
    }
}

async fn update(
    State(state): State<Sealing>,
    AdminOrOwner(user): AdminOrOwner,
    request_id: RequestId,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SettingsUpdate>,
) -> Result<Response, ApiError> {
    let precondition = precondition(&headers, body.version)?;
    let change = ChangeContext {
        actor: Actor::User {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
        },
        request_id: Some(request_id.to_string()),
    };
    let ctx = UpdateContext {
        tenant_id: &user.tenant_id,
        tier: user.tier,
        keys: &state.keys,
        policy: Policy::from_config(&state.core.config),
        change: &change,
    };
    let updated = settings::update(&state.core.audit, &ctx, body, precondition).await?;
    let mut body = updated.settings.view(updated.version);
    if let Some(secret) = &updated.new_signing_secret {
        // Shown once, in the answer that created or rotated it.
        body["workflow_webhook_signing_secret"] = secret.expose_secret().into();
    }
    Ok(with_etag(body, updated.version))
}
