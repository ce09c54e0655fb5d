//! The notification-test function: an admin or owner sends a clearly labelled
//! test event through the tenant's Slack, Jira or workflow targets, over the
//! same dispatchers real events use, and sees what each target answered.
//!
//! | outcome | answer |
//! |---|---|
//! | every target succeeded | 200 `{"status": "success", "channel", "run_id", "targets"}` |
//! | some workflow targets succeeded | 207, the same body with `"status": "partial"` |
//! | channel not configured | 400 problem naming what is missing |
//! | every target failed | 502 problem: the integration's reason, `run_id`, `targets` |
//! | every target timed out | 504 problem, likewise |
//!
//! Every run that gets past access control, whatever its outcome, appends one
//! `notification.test` audit event (resource `integration/<channel>`).
//! Nothing is deduplicated: each call really sends.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use valdrix_shared::audit::{Actor, NewEvent};
use valdrix_shared::auth::{AdminOrOwner, CurrentUser, tier_too_low};
use valdrix_shared::evidence::{ChannelCheck, Checker, Probe};
use valdrix_shared::http::{ApiError, NoInput, RequestId, optional_json, problem_with};
use valdrix_shared::notify::{self, Channel, RunOutcome, Target, TargetResult};
use valdrix_shared::settings;
use valdrix_shared::state::{Core, Notifying};

pub const TEST_SLACK_PATH: &str = "/api/v1/settings/notifications/test-slack";
pub const TEST_JIRA_PATH: &str = "/api/v1/settings/notifications/test-jira";
pub const TEST_WORKFLOW_PATH: &str = "/api/v1/settings/notifications/test-workflow";

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
    Notifying: FromRef<S>,
{
    Router::new()
        .route(TEST_SLACK_PATH, post(test_slack))
        .route(TEST_JIRA_PATH, post(test_jira))
        .route(TEST_WORKFLOW_PATH, post(test_workflow))
        .with_state(state)
}

async fn test_slack(
    State(state): State<Notifying>,
    AdminOrOwner(user): AdminOrOwner,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run(&state, &user, &request_id, &headers, &body, Channel::Slack).await
}

async fn test_jira(
    State(state): State<Notifying>,
    AdminOrOwner(user): AdminOrOwner,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run(&state, &user, &request_id, &headers, &body, Channel::Jira).await
}

async fn test_workflow(
    State(state): State<Notifying>,
    AdminOrOwner(user): AdminOrOwner,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run(
        &state,
        &user,
        &request_id,
        &headers,
        &body,
        Channel::Workflow,
    )
    .await
}

async fn run(
    state: &Notifying,
    user: &CurrentUser,
    request_id: &RequestId,
    headers: &HeaderMap,
    body: &[u8],
    channel: Channel,
) -> Result<Response, ApiError> {
    // The routes take no input: no body, or `{}`.
    optional_json::<NoInput>(headers, body)?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let (current, _) = settings::load(state.core.store.as_ref(), &user.tenant_id).await?;
    let checker = Checker {
        config: &state.core.config,
        keys: &state.keys,
        integrations: &state.integrations,
    };
    let probe = Probe::TestEvent { run_id: &run_id };
    let started = Instant::now();
    let checked = checker
        .check(&user.tenant_id, user.tier, &current, channel, probe)
        .await;
    let (results, secrets) = match checked {
        ChannelCheck::Gated { tier, feature } => {
            return Err(tier_too_low(user.tier, tier, feature));
        }
        ChannelCheck::NotConfigured(not_configured) => {
            let details = json!({
                "channel": channel,
                "outcome": "not_configured",
                "http_status": 400,
                "run_id": run_id,
                "missing": not_configured.missing,
            });
            record(state, user, request_id, channel, false, details, &[]).await?;
            let mut extensions = Map::new();
            extensions.insert("channel".into(), json!(channel));
            extensions.insert("run_id".into(), json!(run_id));
            extensions.insert("missing".into(), json!(not_configured.missing));
            return Ok(problem_with(
                StatusCode::BAD_REQUEST,
                &not_configured.to_string(),
                extensions,
            ));
        }
        ChannelCheck::Ran { results, targets } => {
            let secrets: Vec<String> = targets
                .iter()
                .flat_map(Target::secrets)
                .map(str::to_owned)
                .collect();
            (results, secrets)
        }
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcome = RunOutcome::of(&results);
    let status = match outcome {
        RunOutcome::Success => StatusCode::OK,
        RunOutcome::Partial => StatusCode::MULTI_STATUS,
        RunOutcome::Failed => StatusCode::BAD_GATEWAY,
        RunOutcome::TimedOut => StatusCode::GATEWAY_TIMEOUT,
    };
    let details = json!({
        "channel": channel,
        "outcome": outcome,
        "http_status": status.as_u16(),
        "run_id": run_id,
        "latency_ms": latency_ms,
        "status_codes": results.iter().map(|r| r.status_code).collect::<Vec<_>>(),
        "targets": results.iter().map(audit_summary).collect::<Vec<_>>(),
    });
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    record(
        state,
        user,
        request_id,
        channel,
        outcome == RunOutcome::Success,
        details,
        &secrets,
    )
    .await?;

    let targets_json = json!(results);
    Ok(match outcome {
        RunOutcome::Success | RunOutcome::Partial => {
            let body = json!({
                "status": if outcome == RunOutcome::Success { "success" } else { "partial" },
                "channel": channel,
                "run_id": run_id,
                "targets": targets_json,
            });
            (status, Json(body)).into_response()
        }
        RunOutcome::Failed | RunOutcome::TimedOut => {
            let mut extensions = Map::new();
            extensions.insert("channel".into(), json!(channel));
            extensions.insert("run_id".into(), json!(run_id));
            extensions.insert("targets".into(), targets_json);
            problem_with(
                status,
                &failure_detail(channel, outcome, &results),
                extensions,
            )
        }
    })
}

/// "Slack test failed: Slack refused: channel_not_found", or for several
/// targets each one's reason.
fn failure_detail(channel: Channel, outcome: RunOutcome, results: &[TargetResult]) -> String {
    let verb = if outcome == RunOutcome::TimedOut {
        "timed out"
    } else {
        "failed"
    };
    match results {
        [only] => format!("{} test {verb}: {}", channel.label(), only.detail),
        many => {
            let reasons: Vec<String> = many
                .iter()
                .map(|r| format!("{}: {}", r.target, r.detail))
                .collect();
            format!(
                "{} test {verb} for all {} targets: {}",
                channel.label(),
                many.len(),
                reasons.join("; ")
            )
        }
    }
}

fn audit_summary(r: &TargetResult) -> Value {
    json!({
        "target": r.target,
        "ok": r.ok,
        "status_code": r.status_code,
        "latency_ms": r.latency_ms,
        "detail": r.detail,
        "external_id": r.external_id,
    })
}

/// One `notification.test` event. Details are redacted with the tenant's own
/// opened secrets too, on top of the log's operator secrets.
async fn record(
    state: &Notifying,
    user: &CurrentUser,
    request_id: &RequestId,
    channel: Channel,
    success: bool,
    details: Value,
    secrets: &[&str],
) -> Result<(), ApiError> {
    let details = state.core.audit.redactor().with(secrets).redact(&details);
    state
        .core
        .audit
        .append(NewEvent {
            tenant_id: user.tenant_id.clone(),
            event_type: notify::TEST_AUDIT_EVENT_TYPE.into(),
            actor: Actor::User {
                user_id: user.user_id.clone(),
                email: user.email.clone(),
            },
            request_id: Some(request_id.to_string()),
            resource: Some(format!("integration/{channel}")),
            success,
            details,
        })
        .await?;
    Ok(())
}
