//! `GET /api/v1/audit/compliance-pack`: owner only, pro or enterprise. The
//! pack is exported by `exports::export_pack`; this answers `303 See Other`
//! to its signed URL (five minutes), or with `Accept: application/json` 200
//! `{url, expires_at, bytes, sha256, run_id}`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::header::{ACCEPT, HOST, LOCATION};
use serde_json::json;
use valdrix_shared::audit::Actor;
use valdrix_shared::auth::{Owner, require_tier, tier_name};
use valdrix_shared::exports::{ExportRequest, export_pack, options};
use valdrix_shared::http::{ApiError, RequestId};
use valdrix_shared::state::{Core, PackSigner, PackStore};
use valdrix_shared::tenancy::Tier;

pub const PACK_PATH: &str = "/api/v1/audit/compliance-pack";

pub(crate) async fn compliance_pack(
    State(state): State<Core>,
    State(PackStore(objects)): State<PackStore>,
    State(PackSigner(signer)): State<PackSigner>,
    Owner(user): Owner,
    request_id: RequestId,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_tier(&user, Tier::Pro, "compliance_exports")?;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let now = Utc::now();
    let options = options::parse(&pairs, now.date_naive())
        .map_err(|e| ApiError::invalid_field(e.param, e.message))?;
    let objects =
        objects.ok_or_else(|| ApiError::Unavailable("no export store is configured".into()))?;
    let request = ExportRequest {
        tenant_id: user.tenant_id.clone(),
        tier: tier_name(user.tier).into(),
        actor: Actor::User {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
        },
        request_id: Some(request_id.to_string()),
        environment: state.config.environment.as_str().into(),
        path: PACK_PATH.into(),
        options,
        now,
    };
    let signer =
        signer.ok_or_else(|| ApiError::Unavailable("no audit signing key is configured".into()))?;
    let exported = export_pack(
        &state.store,
        &state.audit,
        objects.as_ref(),
        signer.as_ref(),
        request,
    )
    .await?;
    let url = absolute(&exported.url.url, &headers);
    if wants_json(&headers) {
        let body = json!({
            "url": url,
            "expires_at": exported.url.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "bytes": exported.bytes,
            "sha256": exported.sha256,
            "run_id": exported.run_id,
        });
        return Ok((StatusCode::OK, axum::Json(body)).into_response());
    }
    Ok((StatusCode::SEE_OTHER, [(LOCATION, url)]).into_response())
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|p| p.split(';').next().unwrap_or("").trim() == "application/json")
        })
}

/// A local store's path-only URL, made absolute from the request's host.
fn absolute(url: &str, headers: &HeaderMap) -> String {
    if !url.starts_with('/') {
        return url.to_owned();
    }
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).filter(|h| {
        h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    });
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    match host {
        Some(h) => format!("{proto}://{h}{url}"),
        None => url.to_owned(),
    }
}
