//! `GET …/acceptance-evidence/verify[?cursor=]`: verify the next bounded
//! range of the tenant's audit chain (at most `RANGE_EVENTS` events or
//! `RANGE_TIME`, whichever first, and always before the request's deadline)
//! and hand back a MAC'd cursor to continue from. `complete: true` once the
//! walk has reached the head; `ok: false` names the first bad event.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::Value;
use valdrix_shared::audit::{Budget, CursorKey, RANGE_EVENTS};
use valdrix_shared::auth::AdminOrOwner;
use valdrix_shared::deadline::{Deadline, Expired};
use valdrix_shared::http::{ApiError, RequestDeadline};
use valdrix_shared::state::Core;

/// One request verifies for at most this long, so it answers well inside
/// API Gateway's 30 s even on a slow store.
const RANGE_TIME: Duration = Duration::from_secs(5);
/// Left to answer after the walk stops.
const ANSWER_RESERVE: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    cursor: Option<String>,
}

pub async fn verify(
    State(state): State<Core>,
    AdminOrOwner(user): AdminOrOwner,
    RequestDeadline(deadline): RequestDeadline,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let key = CursorKey::from_config(&state.config);
    let now = chrono::Utc::now();
    let resume = params
        .cursor
        .as_deref()
        .map(|text| key.decode(&user.tenant_id, text, now))
        .transpose()?;
    let budget = Budget {
        max_events: RANGE_EVENTS,
        deadline: deadline
            .less(ANSWER_RESERVE)
            .min(Deadline::after(RANGE_TIME)),
    };
    let outcome = state
        .audit
        .verify_range(&user.tenant_id, resume.as_ref(), budget)
        .await?;
    if outcome.made_no_progress() {
        return Err(Expired.into());
    }
    let mut body = serde_json::to_value(&outcome).map_err(ApiError::internal)?;
    body["next_cursor"] = outcome
        .next
        .as_ref()
        .map(|at| key.encode(&user.tenant_id, at, now))
        .into();
    Ok(Json(body))
}
