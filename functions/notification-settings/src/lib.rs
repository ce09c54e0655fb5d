//! The notification-settings function: read (any member) and update (admin or
//! owner) a tenant's Slack, Jira and workflow settings.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use valdrix_shared::audit::Actor;
use valdrix_shared::auth::{AdminOrOwner, CurrentUser};
use valdrix_shared::http::{ApiError, ApiJson, RequestId};
use valdrix_shared::outbound::ssrf::Policy;
use valdrix_shared::settings::{self, Saved, SettingsUpdate};
use valdrix_shared::state::SharedState;
use valdrix_shared::tenancy::ChangeContext;

pub fn router(state: SharedState) -> Router {
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

async fn read(State(state): State<SharedState>, user: CurrentUser) -> Result<Response, ApiError> {
    let (current, version) = settings::load(state.store.as_ref(), &user.tenant_id).await?;
    Ok(with_etag(current.view(version), version))
}

/// The version the caller last read: `If-Match` or the body's `version`.
fn expected_version(headers: &HeaderMap, body: Option<u64>) -> Result<Option<u64>, ApiError> {
    let header = match headers.get(header::IF_MATCH) {
        None => None,
        Some(raw) => {
            let text = raw
                .to_str()
                .unwrap_or_default()
                .trim()
                .trim_start_matches("W/")
                .trim_matches('"');
            Some(text.parse::<u64>().map_err(|_| {
                ApiError::invalid_field(
                    "If-Match",
                    "must be the ETag of a previous read, e.g. \"3\"",
                )
            })?)
        }
    };
    match (header, body) {
        (Some(h), Some(b)) if h != b => Err(ApiError::invalid_field(
            "version",
            "disagrees with If-Match",
        )),
        (h, b) => Ok(h.or(b)),
    }
}

async fn update(
    State(state): State<SharedState>,
    AdminOrOwner(user): AdminOrOwner,
    request_id: RequestId,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SettingsUpdate>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers, body.version)?;
    let (current, version) = settings::load(state.store.as_ref(), &user.tenant_id).await?;
    if expected.is_some_and(|e| e != version) {
        return Err(ApiError::Conflict(format!(
            "settings changed since version {}; read them again (current version {version})",
            expected.unwrap_or_default()
        )));
    }
    let policy = Policy::from_config(&state.config);
    let applied = settings::apply(
        &current,
        body,
        user.tier,
        &user.tenant_id,
        &state.keys,
        policy,
    )?;
    let ctx = ChangeContext {
        actor: Actor::User {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
        },
        request_id: Some(request_id.to_string()),
    };
    let Saved::Ok { version } =
        settings::save(&state.audit, &user.tenant_id, &applied, version, &ctx).await?
    else {
        return Err(ApiError::Conflict(
            "settings changed concurrently; read them again".into(),
        ));
    };
    let mut body = applied.settings.view(version);
    if let Some(secret) = &applied.new_signing_secret {
        // Shown once, in the answer that created or rotated it.
        body["workflow_webhook_signing_secret"] = secret.expose_secret().into();
    }
    Ok(with_etag(body, version))
}
