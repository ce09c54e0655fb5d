//! The compliance-export function.
//!
//! - `GET /api/v1/audit/compliance-pack` — owner only, pro or enterprise: writes
//!   the request's audit event, streams the ZIP into the object store and
//!   answers `303 See Other` to a signed URL that expires in five minutes
//!   (or, with `Accept: application/json`, 200 `{url, expires_at, bytes,
//!   sha256, run_id}`).
//! - `GET /api/v1/audit/compliance-pack/download` — serves a local-directory
//!   object to the holder of a valid signed URL (`valdrix serve` only; S3
//!   URLs go to S3).
//! - `POST /api/v1/admin/tenants/{tenant_id}/remediations` — `X-Admin-Key`:
//!   create or replace a remediation record (savings-proof input).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use valdrix_shared::audit::{Actor, NewEvent, tenant_pk};
use valdrix_shared::auth::{AdminKey, Owner, require_tier, tier_name};
use valdrix_shared::exports::{PackRequest, build_pack, options};
use valdrix_shared::http::{ApiError, ApiJson, RequestId};
use valdrix_shared::ledger::{CostWindow, PROVIDERS, Remediation, RemediationStatus};
use valdrix_shared::metrics::Unit;
use valdrix_shared::objects::{
    DOWNLOAD_PATH, DynObjectStore, LocalDirStore, ObjectError, signing_key,
};
use valdrix_shared::state::SharedState;
use valdrix_shared::store::codec::to_item;
use valdrix_shared::store::{Condition, WriteOp};
use valdrix_shared::tenancy::{self, Tier};

pub const PACK_PATH: &str = "/api/v1/audit/compliance-pack";
pub const REMEDIATIONS_PATH: &str = "/api/v1/admin/tenants/{tenant_id}/remediations";
/// How long a pack's URL works.
pub const URL_TTL: Duration = Duration::from_secs(300);

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route(PACK_PATH, get(compliance_pack))
        .route(DOWNLOAD_PATH, get(download))
        .route(REMEDIATIONS_PATH, post(put_remediation))
        .with_state(state)
}

/// The local-directory object store for `valdrix serve`; its URLs are signed
/// with a key derived from the config's ENCRYPTION_KEY and KDF_SALT.
pub fn local_object_store(
    dir: impl Into<std::path::PathBuf>,
    config: &valdrix_shared::config::RuntimeConfig,
) -> DynObjectStore {
    Arc::new(LocalDirStore::new(dir, signing_key(config)))
}

fn object_error(e: ObjectError) -> ApiError {
    match e {
        ObjectError::Backend(cause) => {
            tracing::error!(cause = %cause, "object store failed");
            ApiError::Unavailable("the export store is unavailable".into())
        }
        other => ApiError::internal(other),
    }
}

async fn compliance_pack(
    State(state): State<SharedState>,
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
    let opts = options::parse(&pairs, now.date_naive())
        .map_err(|e| ApiError::invalid_field(e.param, e.message))?;
    let objects = state
        .objects
        .clone()
        .ok_or_else(|| ApiError::Unavailable("no export store is configured".into()))?;

    let run_id = uuid::Uuid::now_v7().to_string();
    let actor = Actor::User {
        user_id: user.user_id.clone(),
        email: user.email.clone(),
    };
    let key = format!("packs/{}/{run_id}.zip", safe_name(&user.tenant_id));
    // The request is on record before anything is built.
    state
        .audit
        .append(NewEvent {
            tenant_id: user.tenant_id.clone(),
            event_type: "audit.export_requested".into(),
            actor: actor.clone(),
            request_id: Some(request_id.to_string()),
            resource: Some(format!("compliance-pack/{run_id}")),
            success: true,
            details: json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "method": "GET",
                "path": PACK_PATH,
                "options": opts,
            }),
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not audit the export request");
            ApiError::Unavailable("the audit log is unavailable; nothing was exported".into())
        })?;

    let req = PackRequest {
        run_id: run_id.clone(),
        tenant_id: user.tenant_id.clone(),
        tier: tier_name(user.tier).into(),
        actor: actor.clone(),
        environment: state.config.environment.as_str().into(),
        generated_at: now,
        options: opts,
    };
    let mut upload = objects
        .create(&key, "application/zip")
        .await
        .map_err(object_error)?;
    let built = build_pack(&state.store, &state.audit, &req, upload.as_mut()).await;
    let result = match built {
        Ok(r) => r,
        Err(e) => {
            upload.abort().await;
            return Err(match e {
                valdrix_shared::exports::PackError::Store(s) => s.into(),
                other => ApiError::internal(other),
            });
        }
    };
    upload.finish().await.map_err(object_error)?;
    valdrix_shared::metrics::emit(
        "compliance-export",
        &[
            ("PackExports", 1.0, Unit::Count),
            ("PackExportBytes", result.bytes as f64, Unit::Bytes),
        ],
        valdrix_shared::metrics::props([("run_id", json!(run_id))]),
    );

    let filename = format!(
        "compliance-pack-{}-{}.zip",
        safe_name(&user.tenant_id),
        now.format("%Y%m%dT%H%M%SZ")
    );
    let signed = objects
        .signed_url(&key, &filename, URL_TTL)
        .await
        .map_err(object_error)?;
    if let Err(e) = state
        .audit
        .append(NewEvent {
            tenant_id: user.tenant_id.clone(),
            event_type: "audit.export_completed".into(),
            actor,
            request_id: Some(request_id.to_string()),
            resource: Some(format!("compliance-pack/{run_id}")),
            success: true,
            details: json!({
                "export_type": "compliance_pack",
                "run_id": run_id,
                "bytes": result.bytes,
                "sha256": result.sha256,
                "exports": result.manifest["exports"],
            }),
        })
        .await
    {
        tracing::error!(error = %e, "could not audit the export completion");
    }

    let url = absolute(&signed.url, &headers);
    if wants_json(&headers) {
        let body = json!({
            "url": url,
            "expires_at": signed.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "bytes": result.bytes,
            "sha256": result.sha256,
            "run_id": run_id,
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

fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct DownloadQuery {
    key: String,
    expires: i64,
    filename: String,
    sig: String,
}

async fn download(
    State(state): State<SharedState>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let local = state
        .objects
        .as_ref()
        .and_then(|o| o.as_local())
        .ok_or_else(|| ApiError::NotFound("no local export store here".into()))?;
    let path = local
        .resolve(&q.key, q.expires, &q.filename, &q.sig, Utc::now())
        .map_err(|e| match e {
            ObjectError::BadSignature => ApiError::Forbidden("the link is invalid".into()),
            ObjectError::Expired => ApiError::Forbidden("the link has expired".into()),
            ObjectError::NotFound => ApiError::NotFound("the export no longer exists".into()),
            other => ApiError::internal(other),
        })?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal)?;
    let len = file.metadata().await.map_err(ApiError::internal)?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!("attachment; filename=\"{}\"", safe_file(&q.filename));
    Ok((
        StatusCode::OK,
        [
            (CONTENT_TYPE, "application/zip".to_owned()),
            (CONTENT_LENGTH, len.to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

fn safe_file(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemediationBody {
    id: Option<String>,
    action: String,
    resource_id: String,
    provider: String,
    account_id: Option<String>,
    region: Option<String>,
    status: String,
    estimated_monthly_savings: Decimal,
    currency: Option<String>,
    executed_at: Option<DateTime<Utc>>,
    baseline: Option<CostWindow>,
    measurement: Option<CostWindow>,
    confidence_score: Option<Decimal>,
}

fn parse_status(s: &str) -> Result<RemediationStatus, ApiError> {
    serde_json::from_value(json!(s)).map_err(|_| {
        ApiError::invalid_field(
            "status",
            "must be one of proposed, pending, approved, executing, completed, failed, rejected",
        )
    })
}

/// Amounts are bounded far above any real figure and far below where the
/// pack's savings sums and `× 30` would overflow `Decimal` (a panic, a 500).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

fn check_amount(field: &str, value: &Decimal) -> Result<(), ApiError> {
    if value.abs() > Decimal::from(MAX_AMOUNT) {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_AMOUNT} in absolute value"),
        ));
    }
    Ok(())
}

fn check_window(field: &str, w: &Option<CostWindow>) -> Result<(), ApiError> {
    if let Some(w) = w {
        check_amount(&format!("{field}.avg_daily_cost"), &w.avg_daily_cost)?;
    }
    match w {
        Some(w) if w.start_date > w.end_date => Err(ApiError::invalid_field(
            format!("{field}.start_date"),
            "must be <= end_date",
        )),
        Some(w) if w.avg_daily_cost.is_sign_negative() => Err(ApiError::invalid_field(
            format!("{field}.avg_daily_cost"),
            "must not be negative",
        )),
        _ => Ok(()),
    }
}

async fn put_remediation(
    State(state): State<SharedState>,
    _: AdminKey,
    request_id: RequestId,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<RemediationBody>,
) -> Result<(StatusCode, axum::Json<Remediation>), ApiError> {
    if tenancy::get_tenant(state.store.as_ref(), &tenant_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("tenant {tenant_id} not found")));
    }
    let status = parse_status(&body.status)?;
    let provider = body.provider.trim().to_ascii_lowercase();
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::invalid_field(
            "provider",
            format!("must be one of {}", PROVIDERS.join(", ")),
        ));
    }
    let currency = body.currency.unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid_field(
            "currency",
            "must be an ISO 4217 code",
        ));
    }
    for (field, value) in [("action", &body.action), ("resource_id", &body.resource_id)] {
        if value.trim().is_empty() || value.len() > 512 {
            return Err(ApiError::invalid_field(
                field,
                "must be 1 to 512 characters",
            ));
        }
    }
    let id = body.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(ApiError::invalid_field(
            "id",
            "must be 1 to 128 of A-Z a-z 0-9 - _ .",
        ));
    }
    check_amount("estimated_monthly_savings", &body.estimated_monthly_savings)?;
    check_window("baseline", &body.baseline)?;
    check_window("measurement", &body.measurement)?;
    if status == RemediationStatus::Completed && body.executed_at.is_none() {
        return Err(ApiError::invalid_field(
            "executed_at",
            "is required when status is completed",
        ));
    }
    let now = Utc::now();
    let existing =
        valdrix_shared::ledger::get_remediation(state.store.as_ref(), &tenant_id, &id).await?;
    let record = Remediation {
        id: id.clone(),
        tenant_id: tenant_id.clone(),
        action: body.action,
        resource_id: body.resource_id,
        provider,
        account_id: body.account_id,
        region: body.region,
        status,
        estimated_monthly_savings: body.estimated_monthly_savings,
        currency,
        executed_at: body.executed_at,
        baseline: body.baseline,
        measurement: body.measurement,
        confidence_score: body.confidence_score,
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
    };
    let item = to_item(
        &tenant_pk(&tenant_id),
        &format!("REMEDIATION#{id}"),
        1,
        &record,
    );
    state
        .audit
        .append_with(
            NewEvent {
                tenant_id: tenant_id.clone(),
                event_type: "remediation.recorded".into(),
                actor: Actor::AdminKey,
                request_id: Some(request_id.to_string()),
                resource: Some(format!("remediation/{id}")),
                success: true,
                details: json!({"status": record.status, "provider": record.provider, "replaced": existing.is_some()}),
            },
            vec![WriteOp::Put {
                item,
                condition: Condition::None,
            }],
        )
        .await
        .map_err(|e| match e {
            valdrix_shared::audit::AuditError::Store(s) => ApiError::from(s),
            other => ApiError::internal(other),
        })?;
    let code = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((code, axum::Json(record)))
}
