//! `valdrix serve --sandbox`: fake Slack, Jira, GitHub, GitLab and webhook
//! receivers on loopback (`crate::demo` points the demo tenant at them), so
//! every test call works on a laptop with no vendor account.
//!
//! Each receiver answers like its vendor's happy path, keeps the last
//! [`KEEP`] requests it received (credentials masked) for
//! `GET /_sandbox/received`, and logs one line per delivery to stderr.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;
use valdrix_shared::outbound::vendor::Endpoints;
use valdrix_shared::outbound::webhook_sig;

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

/// A form body as a JSON object, any field naming a token masked.
fn form_body(body: &[u8]) -> Value {
    let fields: Map<String, Value> = url::form_urlencoded::parse(body)
        .map(|(k, v)| {
            let v = if k.contains("token") {
                "***".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), Value::String(v))
        })
        .collect();
    Value::Object(fields)
}

type Ctx = State<Arc<Shared>>;

async fn slack_post_message(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = json_body(&body);
    let channel = body.get("channel").and_then(Value::as_str).unwrap_or("");
    let answer = if !has_credential(&headers, "bearer") {
        json!({"ok": false, "error": "not_authed"})
    } else if channel.is_empty() {
        json!({"ok": false, "error": "channel_not_found"})
    } else {
        let ts = format!("{}.{:06}", chrono::Utc::now().timestamp(), shared.next());
        json!({"ok": true, "channel": channel, "ts": ts})
    };
    shared.keep(
        "slack",
        &method,
        &uri,
        &headers,
        body,
        StatusCode::OK,
        Map::new(),
    );
    Json(answer).into_response()
}

async fn slack_auth_test(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let answer = if has_credential(&headers, "bearer") {
        json!({"ok": true, "url": "https://valdrix-sandbox.slack.com/", "team": "Valdrix Sandbox",
               "user": "valdrix", "team_id": "TSANDBOX", "user_id": "USANDBOX"})
    } else {
        json!({"ok": false, "error": "not_authed"})
    };
    shared.keep(
        "slack",
        &method,
        &uri,
        &headers,
        Value::Null,
        StatusCode::OK,
        Map::new(),
    );
    Json(answer).into_response()
}

async fn jira_create_issue(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    jira_reply(&shared, &method, &uri, &headers, &body, |_| {
        let n = shared.next();
        let id = 10_000 + n;
        let key = format!("SBX-{n}");
        let answer = json!({"id": id.to_string(), "key": key,
                            "self": format!("http://{host}/rest/api/3/issue/{id}")});
        // Kept beside the request, so the search below can find the issue.
        let extra = Map::from_iter([("issue_key".to_owned(), Value::from(key))]);
        (StatusCode::CREATED, answer, extra)
    })
}

/// Enhanced JQL search, enough of it for a retry's lookup: the issues this
/// sandbox created that carry the label in `labels = "…"`.
async fn jira_search(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    jira_reply(&shared, &method, &uri, &headers, &body, |body| {
        let label = body["jql"]
            .as_str()
            .and_then(|jql| jql.split("labels = \"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        let received = shared.received.lock().unwrap_or_else(|p| p.into_inner());
        let issues: Vec<Value> = received
            .iter()
            .filter(|e| e["issue_key"].is_string())
            .filter(|e| {
                e["body"]["fields"]["labels"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x == label))
            })
            .map(|e| json!({"key": e["issue_key"]}))
            .collect();
        let answer = json!({"issues": issues, "isLast": true});
        (StatusCode::OK, answer, Map::new())
    })
}

/// Jira's 401 without Basic credentials, else what `answer` makes of the JSON
/// body (status, body, extra fields to keep); kept either way.
fn jira_reply(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    answer: impl FnOnce(&Value) -> (StatusCode, Value, Map<String, Value>),
) -> Response {
    let body = json_body(body);
    let (status, answer, extra) = if has_credential(headers, "basic") {
        answer(&body)
    } else {
        let refusal = json!({"errorMessages": ["You are not authenticated."], "errors": {}});
        (StatusCode::UNAUTHORIZED, refusal, Map::new())
    };
    shared.keep("jira", method, uri, headers, body, status, extra);
    (status, Json(answer)).into_response()
}

async fn jira_myself(State(shared): Ctx, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let status = if has_credential(&headers, "basic") {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    shared.keep(
        "jira",
        &method,
        &uri,
        &headers,
        Value::Null,
        status,
        Map::new(),
    );
    (
        status,
        Json(json!({"accountId": "sandbox-account", "displayName": "Valdrix Sandbox", "active": true})),
    )
        .into_response()
}

async fn github_dispatch(
    State(shared): Ctx,
    Path((_owner, _repo, _workflow)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = if has_credential(&headers, "bearer") {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    };
    shared.keep(
        "github",
        &method,
        &uri,
        &headers,
        json_body(&body),
        status,
        Map::new(),
    );
    if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, Json(json!({"message": "Bad credentials"}))).into_response()
    }
}

async fn gitlab_trigger(
    State(shared): Ctx,
    Path(project): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let has_token = url::form_urlencoded::parse(&body).any(|(k, v)| k == "token" && !v.is_empty());
    let git_ref = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "ref")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (status, answer) = if has_token {
        let id = shared.next();
        (
            StatusCode::CREATED,
            json!({"id": id, "iid": id, "project_id": project, "ref": git_ref, "status": "created"}),
        )
    } else {
        (StatusCode::NOT_FOUND, json!({"message": "404 Not Found"}))
    };
    shared.keep(
        "gitlab",
        &method,
        &uri,
        &headers,
        form_body(&body),
        status,
        Map::new(),
    );
    (status, Json(answer)).into_response()
}

async fn webhook_receive(
    State(shared): Ctx,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let id = text(webhook_sig::HEADER_ID).to_owned();
    let timestamp = text(webhook_sig::HEADER_TIMESTAMP).parse::<i64>().ok();
    let secret = shared
        .signing_secret
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let signature = match (&secret, timestamp) {
        (None, _) => "unverified: signing secret unknown".to_owned(),
        (Some(_), None) => "invalid: missing webhook-timestamp".to_owned(),
        (Some(secret), Some(ts)) => match webhook_sig::verify(
            secret,
            &id,
            ts,
            &body,
            text(webhook_sig::HEADER_SIGNATURE),
            chrono::Utc::now().timestamp(),
        ) {
            Ok(()) => "valid".to_owned(),
            Err(e) => format!("invalid: {e}"),
        },
    };
    let valid = !signature.starts_with("invalid");
    let duplicate = valid && !id.is_empty() && !shared.first_sight(&id);
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut extra = Map::new();
    extra.insert("signature".into(), signature.clone().into());
    extra.insert("duplicate".into(), duplicate.into());
    shared.keep(
        "webhook",
        &method,
        &uri,
        &headers,
        json_body(&body),
        status,
        extra,
    );
    (
        status,
        Json(json!({"received": valid, "duplicate": duplicate, "signature": signature})),
    )
        .into_response()
}

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
    let slack = Router::new()
        .route("/api/chat.postMessage", post(slack_post_message))
        .route("/api/auth.test", post(slack_auth_test));
    let jira = Router::new()
        .route("/rest/api/3/issue", post(jira_create_issue))
        .route("/rest/api/3/search/jql", post(jira_search))
        .route("/rest/api/3/myself", get(jira_myself));
    let github = Router::new().route(
        "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
        post(github_dispatch),
    );
    let gitlab = Router::new().route(
        "/api/v4/projects/{id}/trigger/pipeline",
        post(gitlab_trigger),
    );
    let webhook = Router::new().route(WEBHOOK_PATH, post(webhook_receive));

    let slack = spawn(slack, &shared).await?;
    let webhook = spawn(webhook, &shared).await?;
    Ok(Sandbox {
        slack_api: slack.join("api/").expect("relative URL"),
        jira_url: spawn(jira, &shared).await?,
        github_api: spawn(github, &shared).await?,
        gitlab_url: spawn(gitlab, &shared).await?,
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
