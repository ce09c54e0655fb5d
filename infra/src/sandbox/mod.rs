//! `valdrix serve --sandbox`: fake Slack, Jira, GitHub, GitLab and webhook
//! receivers on loopback (`crate::demo` points the demo tenant at them), so
//! every test call works on a laptop with no vendor account.
//!
//! Each receiver answers like its vendor's happy path, keeps the last
//! [`KEEP`] requests it received (credentials masked) for
//! `GET /_sandbox/received`, and logs one line per delivery to stderr.

mod github;
mod gitlab;
mod jira;
mod slack;
mod webhook;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;
use valdrix_shared::outbound::vendor::Endpoints;

/// Requests kept per sandbox (all receivers together), oldest dropped first.
pub const KEEP: usize = 200;
pub const SLACK_CHANNEL: &str = "#valdrix-sandbox";
pub const WEBHOOK_PATH: &str = "/hooks/valdrix";
const RECEIVERS: [&str; 5] = ["slack", "jira", "github", "gitlab", "webhook"];
/// Webhook ids remembered for deduplication.
const SEEN_IDS: usize = 1000;

/// Fake tenant credentials the demo settings hold; they only ever reach the sandbox.
pub(crate) const JIRA_TOKEN: &str = "sandbox-jira-api-token";
pub(crate) const GITHUB_TOKEN: &str = "ghp_sandbox_github_token";
pub(crate) const GITLAB_TOKEN: &str = "glptt-sandbox-trigger-token";
pub(crate) const WEBHOOK_BEARER: &str = "sandbox-webhook-bearer-token";

/// A fake `SLACK_BOT_TOKEN` for this run; Slack calls go to the sandbox only.
pub fn fake_bot_token() -> String {
    format!("xoxb-sandbox-{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// What the receivers share.
#[derive(Default)]
struct Shared {
    received: Mutex<VecDeque<Value>>,
    seq: AtomicU64,
    /// The demo tenant's webhook signing secret, once known.
    signing_secret: RwLock<Option<SecretString>>,
    seen_ids: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Shared {
    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    #[allow(clippy::too_many_arguments)]
    fn keep(
        &self,
        receiver: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Value,
        status: StatusCode,
        extra: Map<String, Value>,
    ) {
        let seq = self.next();
        eprintln!(
            "sandbox: {receiver:<7} {method} {} -> {}",
            uri.path(),
            status.as_u16()
        );
        let mut entry = json!({
            "seq": seq,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "receiver": receiver,
            "method": method.as_str(),
            "path": uri.path(),
            "status": status.as_u16(),
            "headers": kept_headers(headers),
            "body": body,
        });
        if let Value::Object(map) = &mut entry {
            map.extend(extra);
        }
        let mut received = self.received.lock().unwrap_or_else(|p| p.into_inner());
        if received.len() == KEEP {
            received.pop_front();
        }
        received.push_back(entry);
    }

    /// True the first time `id` is seen.
    fn first_sight(&self, id: &str) -> bool {
        let mut guard = self.seen_ids.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(id.to_owned()) {
            return false;
        }
        order.push_back(id.to_owned());
        if order.len() > SEEN_IDS
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }
}

/// The headers worth seeing, credentials masked down to their scheme.
fn kept_headers(headers: &HeaderMap) -> Value {
    const KEPT: [&str; 8] = [
        "authorization",
        "content-type",
        "accept",
        "user-agent",
        "x-github-api-version",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ];
    let mut out = Map::new();
    for name in KEPT {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            let value = if name == "authorization" {
                mask_credential(value)
            } else {
                value.to_owned()
            };
            out.insert(name.into(), value.into());
        }
    }
    Value::Object(out)
}

fn mask_credential(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} ***"),
        None => "***".into(),
    }
}

fn has_credential(headers: &HeaderMap, scheme: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(s, rest)| s.eq_ignore_ascii_case(scheme) && !rest.trim().is_empty())
}

fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

type Ctx = State<Arc<Shared>>;

#[derive(Deserialize)]
struct ReceivedQuery {
    receiver: Option<String>,
}

async fn received(State(shared): Ctx, Query(q): Query<ReceivedQuery>) -> Response {
    if let Some(r) = &q.receiver
        && !RECEIVERS.contains(&r.as_str())
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": format!("receiver must be one of {}", RECEIVERS.join(", "))})),
        )
            .into_response();
    }
    let all = shared.received.lock().unwrap_or_else(|p| p.into_inner());
    let list: Vec<&Value> = all
        .iter()
        .filter(|e| q.receiver.as_deref().is_none_or(|r| e["receiver"] == r))
        .collect();
    Json(list).into_response()
}

/// The running receivers.
pub struct Sandbox {
    /// Slack Web API base (`…/api/`).
    pub slack_api: Url,
    /// Jira Cloud site.
    pub jira_url: Url,
    /// GitHub REST API base.
    pub github_api: Url,
    /// GitLab instance.
    pub gitlab_url: Url,
    /// The generic webhook receiver (`…/hooks/valdrix`).
    pub webhook_url: Url,
    shared: Arc<Shared>,
}

async fn spawn(router: Router<Arc<Shared>>, shared: &Arc<Shared>) -> std::io::Result<Url> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let app = router.with_state(Arc::clone(shared));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("sandbox: receiver on {addr} stopped: {e}");
        }
    });
    Ok(Url::parse(&format!("http://{addr}/")).expect("a socket address makes a URL"))
}

/// Starts the five receivers, each on its own loopback port.
pub async fn start() -> std::io::Result<Sandbox> {
    let shared = Arc::new(Shared::default());
    let slack = spawn(slack::router(), &shared).await?;
    let webhook = spawn(webhook::router(), &shared).await?;
    Ok(Sandbox {
        slack_api: slack.join("api/").expect("relative URL"),
        jira_url: spawn(jira::router(), &shared).await?,
        github_api: spawn(github::router(), &shared).await?,
        gitlab_url: spawn(gitlab::router(), &shared).await?,
        webhook_url: webhook.join(WEBHOOK_PATH).expect("relative URL"),
        shared,
    })
}

impl Sandbox {
    /// The fixed vendor APIs (Slack, GitHub) pointed at the receivers.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            slack_api: self.slack_api.clone(),
            github_api: self.github_api.clone(),
        }
    }

    /// `GET /_sandbox/received[?receiver=slack|jira|github|gitlab|webhook]`:
    /// what the receivers got, newest last.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/_sandbox/received", get(received))
            .with_state(Arc::clone(&self.shared))
    }

    /// Name and URL of each receiver, for the banner.
    pub fn urls(&self) -> [(&'static str, &Url); 5] {
        [
            ("slack", &self.slack_api),
            ("jira", &self.jira_url),
            ("github", &self.github_api),
            ("gitlab", &self.gitlab_url),
            ("webhook", &self.webhook_url),
        ]
    }

    pub(crate) fn learn_signing_secret(&self, secret: SecretString) {
        *self
            .shared
            .signing_secret
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(secret);
    }
}
