//! `POST …/acceptance-evidence/capture`: run the configured checks with the
//! test calls' logic, record one evidence event per check and one per suite,
//! and answer the run. An `Idempotency-Key` makes a retry answer the first
//! run again without sending anything. Checks that would outlast the
//! request's deadline are abandoned before anything is recorded: a 503 with
//! `Retry-After` (the idempotency claim released), never a half-recorded run.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use valdrix_shared::audit::{Actor, AuditLog};
use valdrix_shared::auth::{AdminOrOwner, CurrentUser};
use valdrix_shared::deadline::Deadline;
use valdrix_shared::evidence::{CheckRecord, CheckStatus, Checker, Probe, Recorder};
use valdrix_shared::http::{ApiError, RequestDeadline, RequestId, optional_json};
use valdrix_shared::idempotency::{self, Claim};
use valdrix_shared::notify::Channel;
use valdrix_shared::settings;
use valdrix_shared::state::Notifying;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "yes")]
    include_slack: bool,
    #[serde(default = "yes")]
    include_jira: bool,
    #[serde(default = "yes")]
    include_workflow: bool,
    #[serde(default)]
    fail_fast: bool,
}

fn yes() -> bool {
    true
}

/// The body is optional (none means every default); when sent, a JSON object.
fn parse_options(headers: &HeaderMap, body: &Bytes) -> Result<Options, ApiError> {
    // The shared parser: its 422 names the field and never echoes a value.
    let options: Options = match optional_json(headers, body)? {
        Some(options) => options,
        None => serde_json::from_value(json!({})).expect("defaults"),
    };
    if !(options.include_slack || options.include_jira || options.include_workflow) {
        return Err(ApiError::invalid_field(
            "include_slack",
            "at least one of include_slack, include_jira, include_workflow must be true",
        ));
    }
    Ok(options)
}

const SCOPE: &str = "evidence-capture";
/// Left after the checks to record the run (one transaction) and answer.
const RECORD_RESERVE: std::time::Duration = std::time::Duration::from_secs(3);

pub async fn capture(
    State(state): State<Notifying>,
    AdminOrOwner(user): AdminOrOwner,
    request_id: RequestId,
    RequestDeadline(deadline): RequestDeadline,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let options = parse_options(&headers, &body)?;
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let Some(key) = key else {
        let answer = run(&state, &user, &request_id, &options, deadline).await?;
        return Ok(Json(answer).into_response());
    };
    if !idempotency::valid_key(&key) {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "must be 1-128 visible ASCII characters",
        ));
    }
    let hash = idempotency::request_hash(&serde_json::to_vec(&options).unwrap_or_default());
    let store = state.core.store.as_ref();
    match idempotency::claim(store, &user.tenant_id, SCOPE, &key, &hash).await? {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((status, [("idempotent-replayed", "true")], Json(body)).into_response())
        }
        Claim::InProgress => Err(ApiError::Conflict(
            "a capture with this Idempotency-Key is still running".into(),
        )),
        Claim::Mismatch => Err(ApiError::invalid_field(
            "Idempotency-Key",
            "was already used with a different request body",
        )),
        Claim::Fresh => match run(&state, &user, &request_id, &options, deadline).await {
            Ok(answer) => {
                idempotency::complete(store, &user.tenant_id, SCOPE, &key, &hash, 200, &answer)
                    .await?;
                Ok(Json(answer).into_response())
            }
            Err(e) => {
                // Let a retry run it again; the failure itself was not an answer.
                idempotency::release(store, &user.tenant_id, SCOPE, &key).await?;
                Err(e)
            }
        },
    }
}

async fn run(
    state: &Notifying,
    user: &CurrentUser,
    request_id: &RequestId,
    options: &Options,
    deadline: Deadline,
) -> Result<Value, ApiError> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let captured_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (settings, _) = settings::load(state.core.store.as_ref(), &user.tenant_id).await?;
    let channels: Vec<Channel> = [
        (Channel::Slack, options.include_slack),
        (Channel::Jira, options.include_jira),
        (Channel::Workflow, options.include_workflow),
    ]
    .into_iter()
    .filter_map(|(c, on)| on.then_some(c))
    .collect();

    let checker = Checker {
        config: &state.core.config,
        keys: &state.keys,
        integrations: &state.integrations,
    };
    let probe = Probe::TestEvent { run_id: &run_id };
    let settings = &settings;
    let check = |channel: Channel| async move {
        let done = checker
            .check(&user.tenant_id, user.tier, settings, channel, probe)
            .await;
        let record = done.record(channel, probe, user.tier);
        let secrets: Vec<String> = done.secrets().into_iter().map(str::to_owned).collect();
        (record, secrets)
    };
    let check_all = async {
        let mut checked: Vec<(CheckRecord, Vec<String>)> = Vec::new();
        if options.fail_fast {
            for channel in &channels {
                let done = check(*channel).await;
                let failed = done.0.status == CheckStatus::Failed;
                checked.push(done);
                if failed {
                    break;
                }
            }
            for channel in &channels[checked.len()..] {
                checked.push((
                    CheckRecord::skipped(
                        channel.as_str(),
                        "not run: fail_fast stopped after a failure".into(),
                    ),
                    Vec::new(),
                ));
            }
        } else {
            checked = join_all(channels.iter().map(|c| check(*c))).await;
        }
        checked
    };
    // Outbound checks take up to 10 s each (three in a row with fail_fast).
    let checked = deadline.less(RECORD_RESERVE).within(check_all).await?;

    // Whatever the targets hold is redacted from the record on top of the operator's secrets.
    let secrets: Vec<String> = checked.iter().flat_map(|(_, s)| s.clone()).collect();
    let audit = AuditLog::new(
        state.core.store.clone(),
        state.core.audit.redactor().with(&secrets),
    );
    let recorder = Recorder {
        audit: &audit,
        tenant_id: &user.tenant_id,
        run_id: &run_id,
        actor: Actor::User {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
        },
        request_id: Some(request_id.to_string()),
        mode: "capture",
    };
    let records: Vec<CheckRecord> = checked.into_iter().map(|(r, _)| r).collect();
    let channel_names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    let run = recorder.run(&records, &channel_names).await?;
    let results: Vec<Value> = records
        .iter()
        .zip(run.checks)
        .map(|(record, event)| {
            let mut item = serde_json::to_value(record).unwrap_or_default();
            item["event_id"] = event.id.into();
            item["hash"] = event.hash.into();
            item
        })
        .collect();
    let (passed, failed, skipped, overall) =
        (run.passed, run.failed, run.skipped, run.overall_status);
    Ok(json!({
        "run_id": run_id,
        "captured_at": captured_at,
        "overall_status": overall,
        "passed": passed,
        "failed": failed,
        "skipped": skipped,
        "results": results,
    }))
}
