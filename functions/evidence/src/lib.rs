//! The evidence function: capture a run of integration checks as audit-grade
//! evidence, list it newest first, and verify the tenant's chain a bounded
//! range per request. Each stops cleanly before the request's deadline.

mod capture;
mod verify;

use axum::extract::{FromRef, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use valdrix_shared::auth::AdminOrOwner;
use valdrix_shared::evidence::{self, Filter};
use valdrix_shared::http::{ApiError, RequestDeadline};
use valdrix_shared::state::{Core, Notifying};
use valdrix_shared::store::Cursor;
use valdrix_shared::validate;

const BASE: &str = "/api/v1/settings/notifications/acceptance-evidence";

pub fn router<S>(state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Core: FromRef<S>,
    Notifying: FromRef<S>,
{
    Router::new()
        .route(BASE, get(list))
        .route(&format!("{BASE}/capture"), post(capture::capture))
        .route(&format!("{BASE}/verify"), get(verify::verify))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    run_id: Option<String>,
    channel: Option<String>,
}

/// Left after the index scan to answer; a page's events are read in parallel.
const LIST_RESERVE: std::time::Duration = std::time::Duration::from_secs(3);

const CHANNELS: [&str; 4] = ["slack", "jira", "workflow", "suite"];

async fn list(
    State(state): State<Core>,
    AdminOrOwner(user): AdminOrOwner,
    RequestDeadline(deadline): RequestDeadline,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => validate::digits(raw)
            .filter(|n| (1..=200).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                ApiError::invalid_field("limit", "must be a whole number from 1 to 200")
            })?,
    };
    if let Some(run_id) = &params.run_id
        && !validate::uuid(run_id)
    {
        return Err(ApiError::invalid_field(
            "run_id",
            "must be a run id (a UUID)",
        ));
    }
    let cursor = params.cursor.as_deref().map(Cursor::decode).transpose()?;
    if let Some(c) = &params.channel
        && !CHANNELS.contains(&c.as_str())
    {
        return Err(ApiError::invalid_field(
            "channel",
            "must be one of slack, jira, workflow, suite",
        ));
    }
    let filter = Filter {
        run_id: params.run_id,
        channel: params.channel,
    };
    let (items, next) = evidence::list(
        state.store.as_ref(),
        &state.audit,
        &user.tenant_id,
        &filter,
        limit,
        cursor,
        // Room to read the page's events and answer after the index scan stops.
        deadline.less(LIST_RESERVE),
    )
    .await?;
    Ok(Json(json!({
        "items": items,
        "count": items.len(),
        "next_cursor": next.map(|c| c.encode()),
    })))
}
