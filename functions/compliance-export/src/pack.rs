//! `GET /api/v1/audit/compliance-pack`: owner only, pro or enterprise. The
//! pack is an export job with the API's caps (export_jobs.rs), built by the
//! pack worker; this waits for it within the API's budget and answers
//! `303 See Other` to its signed URL (five minutes), or with
//! `Accept: application/json` 200 `{url, expires_at, bytes, sha256, run_id}`.
//! A pack not ready within the budget answers 202 with the job's `Location`.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, HOST, LOCATION};
use serde_json::json;
use valdrix_shared::auth::{Owner, require_tier};
use valdrix_shared::config::process;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::exports::jobs::{self, Job, JobState};
use valdrix_shared::exports::options::Caps;
use valdrix_shared::exports::queue::JobQueue;
use valdrix_shared::http::{ApiError, RequestId};
use valdrix_shared::state::{Core, PackLinks};
use valdrix_shared::tenancy::Tier;

use crate::export_jobs::{accepted, signed, spec_of, start};

pub const PACK_PATH: &str = "/api/v1/audit/compliance-pack";
/// What waiting for the pack may take of API Gateway's 30 s: the rest is
/// for answering.
const API_BUDGET: Duration = Duration::from_secs(20);
const ANSWER_RESERVE: Duration = Duration::from_secs(1);
/// The job's state is read again after this, growing to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(1);

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
    d.less(ANSWER_RESERVE)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn compliance_pack(
    State(state): State<Core>,
    State(queue): State<JobQueue>,
    State(PackLinks(objects)): State<PackLinks>,
    Owner(user): Owner,
    request_id: RequestId,
    RawQuery(query): RawQuery,
    lambda: Option<axum::Extension<lambda_http::Context>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_tier(&user, Tier::Pro, "compliance_exports")?;
    let spec = spec_of(
        &user,
        &state,
        &request_id,
        query,
        Caps::Api,
        "GET",
        PACK_PATH,
    );
    spec.options()
        .map_err(|e| ApiError::invalid_field(e.param, e.message))?;
    let objects =
        objects.ok_or_else(|| ApiError::Unavailable("no export store is configured".into()))?;
    let deadline = api_deadline(lambda.as_ref().map(|e| &e.0));
    let job = start(&state, &queue, spec).await?;
    let job = wait(&state, job, deadline).await?;
    match (job.state, &job.result) {
        (JobState::Succeeded, Some(result)) => {
            let url = signed(objects.as_ref(), result).await?;
            let location = absolute(&url.url, &headers);
            if wants_json(&headers) {
                let body = json!({
                    "url": location,
                    "expires_at": url.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "bytes": result.bytes,
                    "sha256": result.sha256,
                    "run_id": job.run_id,
                });
                return Ok((StatusCode::OK, axum::Json(body)).into_response());
            }
            Ok((StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response())
        }
        (JobState::Failed, _) => Err(failed(&job)),
        _ => Ok(accepted(&job, Some(objects.as_ref()), &headers).await),
    }
}

/// `job` until it ends or `deadline` passes, read again at growing intervals.
async fn wait(state: &Core, mut job: Job, deadline: Deadline) -> Result<Job, ApiError> {
    let mut pause = POLL_FIRST;
    while !job.state.ended() && deadline.remaining() > pause {
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(POLL_MAX);
        match jobs::get(
            state.store.as_ref(),
            &state.audit,
            &job.tenant_id,
            &job.job_id,
        )
        .await?
        {
            Some(now) => job = now,
            None => return Err(ApiError::internal("the export job disappeared")),
        }
    }
    Ok(job)
}

/// A failed job's problem as this request's answer.
fn failed(job: &Job) -> ApiError {
    let problem = job.problem.as_ref();
    let detail = problem
        .and_then(|p| p["detail"].as_str())
        .unwrap_or("the export failed")
        .to_owned();
    match problem.and_then(|p| p["status"].as_u64()) {
        Some(503) => ApiError::Unavailable(detail),
        Some(422) => ApiError::Unprocessable {
            detail,
            errors: Vec::new(),
        },
        _ => ApiError::internal(format!("export job {} failed: {detail}", job.job_id)),
    }
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
