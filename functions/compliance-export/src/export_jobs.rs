//! `POST /api/v1/audit/compliance-pack/exports` (owner, pro+; the GET's query
//! parameters, no row cap but the caller's): 202 with the job and its
//! `Location`, the same job again while an equal one is queued or running.
//! `GET …/exports/{id}`: the job's state; another tenant's id is a 404.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use http::header::LOCATION;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::auth::{CurrentUser, Owner, require_tier, tier_name};
use valdrix_shared::exports::URL_TTL;
use valdrix_shared::exports::jobs::{self, Created, Job, JobResult, JobSpec, JobState};
use valdrix_shared::exports::options::Caps;
use valdrix_shared::http::{ApiError, NoInput, RequestId, optional_json};
use valdrix_shared::objects::{Links, SignedUrl};
use valdrix_shared::state::{Core, PackLinks};
use valdrix_shared::tenancy::Tier;

use crate::pack::{absolute, query_pairs};
use valdrix_shared::exports::queue::{JobEvent, JobQueue};

pub const EXPORTS_PATH: &str = "/api/v1/audit/compliance-pack/exports";
pub const EXPORT_PATH: &str = "/api/v1/audit/compliance-pack/exports/{id}";

#[allow(clippy::too_many_arguments)]
pub(crate) async fn create_export(
    State(state): State<Core>,
    State(queue): State<JobQueue>,
    State(PackLinks(objects)): State<PackLinks>,
    Owner(user): Owner,
    request_id: RequestId,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_tier(&user, Tier::Pro, "compliance_exports")?;
    optional_json::<NoInput>(&headers, &body)?;
    let spec = spec_of(
        &user,
        &state,
        &request_id,
        query,
        Caps::Job,
        "POST",
        EXPORTS_PATH,
    );
    spec.options()
        .map_err(|e| ApiError::invalid_field(e.param, e.message))?;
    if objects.is_none() {
        return Err(ApiError::Unavailable(
            "no export store is configured".into(),
        ));
    }
    let job = start(&state, &queue, spec).await?;
    Ok(accepted(&job, objects.as_deref(), &headers).await)
}

/// A job for `spec` (or the equal one already under way), handed to a worker.
pub(crate) async fn start(state: &Core, queue: &JobQueue, spec: JobSpec) -> Result<Job, ApiError> {
    match jobs::create(state.store.as_ref(), &state.audit, spec).await? {
        Created::Existing(job) => Ok(job),
        Created::New(job) => {
            let event = JobEvent {
                tenant_id: job.tenant_id.clone(),
                job_id: job.job_id.clone(),
            };
            if let Err(e) = queue.0.enqueue(&event).await {
                tracing::error!(error = %e, job_id = %job.job_id, "could not hand the export job to a worker");
                jobs::fail_unstarted(
                    state.store.as_ref(),
                    &state.audit,
                    job,
                    "the export could not be started",
                )
                .await?;
                return Err(ApiError::Unavailable(
                    "the export could not be started; try again".into(),
                ));
            }
            Ok(job)
        }
    }
}

pub(crate) fn spec_of(
    user: &CurrentUser,
    state: &Core,
    request_id: &RequestId,
    query: Option<String>,
    caps: Caps,
    method: &str,
    path: &str,
) -> JobSpec {
    JobSpec {
        tenant_id: user.tenant_id.clone(),
        tier: tier_name(user.tier).into(),
        actor: Actor::User {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
        },
        request_id: Some(request_id.to_string()),
        environment: state.config.environment.as_str().into(),
        method: method.into(),
        path: path.into(),
        query: query_pairs(query.as_deref()),
        caps,
        now: Utc::now(),
    }
}

pub(crate) async fn get_export(
    State(state): State<Core>,
    State(PackLinks(objects)): State<PackLinks>,
    Owner(user): Owner,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_tier(&user, Tier::Pro, "compliance_exports")?;
    let job = jobs::get(state.store.as_ref(), &state.audit, &user.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such export".into()))?;
    let body = view(&job, objects.as_deref(), &headers).await?;
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// 202 with the job's `Location` and its state.
pub(crate) async fn accepted(
    job: &Job,
    objects: Option<&dyn Links>,
    headers: &HeaderMap,
) -> Response {
    let location = format!("{EXPORTS_PATH}/{}", job.job_id);
    let body = match view(job, objects, headers).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    (
        StatusCode::ACCEPTED,
        [(LOCATION, location)],
        axum::Json(body),
    )
        .into_response()
}

fn time(t: &chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A job as the API shows it; a finished one with a fresh signed URL.
async fn view(
    job: &Job,
    objects: Option<&dyn Links>,
    headers: &HeaderMap,
) -> Result<Value, ApiError> {
    let mut body = json!({
        "id": job.job_id,
        "state": job.state,
        "run_id": job.run_id,
        "created_at": time(&job.created_at),
        "updated_at": time(&job.updated_at),
        "attempts": job.attempts,
        "rows_done": job.rows_done,
        "rows_estimate": job.rows_estimate,
    });
    match (job.state, &job.result, &job.problem) {
        (JobState::Succeeded, Some(r), _) => {
            let objects = objects
                .ok_or_else(|| ApiError::Unavailable("no export store is configured".into()))?;
            let url = signed(objects, r).await?;
            body["url"] = json!(absolute(&url.url, headers));
            body["expires_at"] = json!(time(&url.expires_at));
            body["bytes"] = json!(r.bytes);
            body["sha256"] = json!(r.sha256);
            body["manifest_sha256"] = json!(r.manifest_sha256);
        }
        (JobState::Failed, _, Some(problem)) => body["problem"] = problem.clone(),
        _ => {}
    }
    Ok(body)
}

/// A fresh signed URL to a finished job's pack.
pub(crate) async fn signed(objects: &dyn Links, result: &JobResult) -> Result<SignedUrl, ApiError> {
    Ok(objects
        .signed_url(&result.key, &result.filename, URL_TTL)
        .await
        .map_err(valdrix_shared::exports::ExportError::from)?)
}
