//! `GET /api/v1/audit/compliance-pack`: owner only, pro or enterprise. The
//! pack is exported by `exports::export_pack` under the API's budget; this
//! answers `303 See Other` to its signed URL (five minutes), or with
//! `Accept: application/json` 200 `{url, expires_at, bytes, sha256, run_id}`.
//! A pack that does not fit the budget is handed to an export job (same
//! options, same caps): 202 with the job's `Location` (export_jobs.rs).

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::header::{ACCEPT, HOST, LOCATION};
use serde_json::json;
use valdrix_shared::audit::Actor;
use valdrix_shared::auth::{Owner, require_tier, tier_name};
use valdrix_shared::config::process;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::exports::options::Caps;
use valdrix_shared::exports::{ExportError, ExportRequest, export_pack, options};
use valdrix_shared::http::{ApiError, RequestId};
use valdrix_shared::state::{Core, PackSigner, PackStore};
use valdrix_shared::tenancy::Tier;

use crate::export_jobs::{accepted, spec_of, start};
use valdrix_shared::exports::queue::JobQueue;

pub const PACK_PATH: &str = "/api/v1/audit/compliance-pack";
/// What the synchronous pack may take of API Gateway's 30 s: the rest is
/// for handing it to a job and answering.
const API_BUDGET: Duration = Duration::from_secs(20);
const HANDOVER_RESERVE: Duration = Duration::from_secs(2);

/// The query's pairs, in order (repeats kept: the options refuse them).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The API budget, shortened by Lambda's own deadline when this runs in
/// Lambda, or by `VALDRIX_INVOCATION_BUDGET_SECONDS` elsewhere.
fn api_deadline(lambda: Option<&lambda_http::Context>) -> Deadline {
    let api = Deadline::after(API_BUDGET);
    let d = match (lambda, process::invocation_budget()) {
        (Some(ctx), _) => api.min(Deadline::invocation(ctx.deadline)),
        (None, Some(budget)) => api.min(Deadline::after(budget)),
        (None, None) => api,
    };
    d.less(HANDOVER_RESERVE)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn compliance_pack(
    State(state): State<Core>,
    State(queue): State<JobQueue>,
    State(PackStore(objects)): State<PackStore>,
    State(PackSigner(signer)): State<PackSigner>,
    Owner(user): Owner,
    request_id: RequestId,
    RawQuery(query): RawQuery,
    lambda: Option<axum::Extension<lambda_http::Context>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_tier(&user, Tier::Pro, "compliance_exports")?;
    let pairs = query_pairs(query.as_deref());
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
        method: "GET".into(),
        path: PACK_PATH.into(),
        options,
        now,
        deadline: api_deadline(lambda.as_ref().map(|e| &e.0)),
    };
    let signer =
        signer.ok_or_else(|| ApiError::Unavailable("no audit signing key is configured".into()))?;
    let exported = match export_pack(
        &state.store,
        &state.audit,
        objects.as_ref(),
        signer.as_ref(),
        request,
    )
    .await
    {
        Ok(exported) => exported,
        // Too big for the API: the same request as a job (its stopped run
        // is on record as failed, the job's as requested).
        Err(ExportError::OutOfTime) => {
            let spec = spec_of(
                &user,
                &state,
                &request_id,
                query,
                Caps::Api,
                "GET",
                PACK_PATH,
            );
            let job = start(&state, &queue, spec).await?;
            return Ok(accepted(&job, Some(objects.as_ref()), &headers).await);
        }
        Err(e) => return Err(e.into()),
    };
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
pub(crate) fn absolute(url: &str, headers: &HeaderMap) -> String {
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
