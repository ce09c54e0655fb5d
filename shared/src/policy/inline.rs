//! What `valdrix serve` adds where AWS has the table's stream and the
//! dispatcher function: accepted policy deliveries are dispatched in the same
//! process right after the 202 (a layer serve puts over the accept route, so
//! no Lambda reads a flag for it), and the due index is swept every few
//! seconds.

use std::time::Duration;

use super::deadletter::StoreDeadLetters;
use super::dispatch::Dispatcher;
use super::send::NotifySender;
use super::{Channel, EVENTS_PATH};
use crate::state::Notifying;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::Value;

/// Longest accept answer read back (its deliveries name the channels).
const MAX_ANSWER: usize = 1024 * 1024;

/// After a `202` to `POST /api/v1/policy/events`, dispatch its deliveries.
pub async fn after_accept(
    State(state): State<Notifying>,
    request: Request,
    next: Next,
) -> Response {
    let accept = request.method() == Method::POST && request.uri().path() == EVENTS_PATH;
    let response = next.run(request).await;
    if !accept || response.status() != StatusCode::ACCEPTED {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(answer) = serde_json::from_slice::<Value>(&bytes) {
        let event_id = answer["event_id"].as_str().unwrap_or_default().to_owned();
        let channels: Vec<Channel> = answer["deliveries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| serde_json::from_value(d["channel"].clone()).ok())
            .collect();
        tokio::spawn(dispatch(state, event_id, channels));
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Dispatch the given deliveries now, in this process.
async fn dispatch(state: Notifying, event_id: String, channels: Vec<Channel>) {
    let sender = NotifySender(state.clone());
    let dead = StoreDeadLetters(state.core.store.clone());
    let dispatcher = Dispatcher {
        store: state.core.store.as_ref(),
        audit: &state.core.audit,
        sender: &sender,
        dead_letters: &dead,
    };
    let deliveries = channels
        .into_iter()
        .map(|c| (event_id.clone(), c))
        .collect();
    let now = chrono::Utc::now().timestamp();
    for (event_id, channel, step) in dispatcher.process_all(deliveries, now).await {
        if let Err(e) = step {
            tracing::error!(event_id, channel = channel.as_str(), error = %e, "inline dispatch failed; the sweep will retry");
        }
    }
}

/// Sweep the due index every `every`: retries and lapsed claims.
pub async fn sweep_forever(state: Notifying, every: Duration) {
    let sender = NotifySender(state.clone());
    let dead = StoreDeadLetters(state.core.store.clone());
    let dispatcher = Dispatcher {
        store: state.core.store.as_ref(),
        audit: &state.core.audit,
        sender: &sender,
        dead_letters: &dead,
    };
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = dispatcher.sweep(chrono::Utc::now().timestamp()).await {
            tracing::error!(error = %e, "delivery sweep failed");
        }
    }
}
