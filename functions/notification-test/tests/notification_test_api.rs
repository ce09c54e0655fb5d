//! The notification-test function's HTTP contract, fed from events/, against
//! wiremock fake receivers. Settings are written through the real
//! `settings::apply` + `settings::save`; stores are real (SQLite, and DynamoDB
//! Local for the happy path). The request shapes each vendor receives are
//! asserted in shared/tests/outbound_*; here: statuses, bodies, audit.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use url::Url;
use valdrix_shared::audit::{Actor, AuditEvent};
use valdrix_shared::http::layers;
use valdrix_shared::notify::{self, Integrations};
use valdrix_shared::outbound::vendor::Endpoints;
use valdrix_shared::outbound::{Policy, Timeouts};
use valdrix_shared::settings::{self, Saved, SettingsUpdate};
use valdrix_shared::state::{AppState, SharedState};
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{call, event_request, test_config, unique, user_token};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Planted secrets: none may appear in any response or audit event.
const BOT_TOKEN: &str = "xoxb-planted-notify-7f3a9c1e5b";
const JIRA_TOKEN: &str = "ATATT-planted-notify-jira-4d8e2a";
const GITHUB_TOKEN: &str = "ghp_planted0notify0github0x9";
const TRIGGER_TOKEN: &str = "glptt-planted-notify-trigger-3c7b";
const BEARER: &str = "bearer-planted-notify-hook-5e1f";

const GITHUB_PATH: &str = "/repos/acme/deploy/actions/workflows/valdrix.yml/dispatches";
const GITLAB_PATH: &str = "/api/v4/projects/42/trigger/pipeline";
const HOOK_PATH: &str = "/hooks/valdrix";

struct Fixture {
    app: axum::Router,
    state: SharedState,
    tenant: String,
    server: MockServer,
    owner: String,
    admin: String,
    member: String,
    owner_email: String,
    /// Every secret the tenant's settings hold, the generated signing secret included.
    secrets: Vec<String>,
}

struct Options {
    tier: Tier,
    bot_token: bool,
    total_timeout: Duration,
    /// Configure Slack, Jira and all three workflow targets.
    configure: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tier: Tier::Pro,
            bot_token: true,
            total_timeout: Duration::from_secs(5),
            configure: true,
        }
    }
}

fn system() -> ChangeContext {
    ChangeContext {
        actor: Actor::System,
        request_id: None,
    }
}

async fn fixture(store: DynStore, options: Options) -> Fixture {
    let mut vars = vec![("VALDRIX_ALLOW_PRIVATE_OUTBOUND", "true")];
    if options.bot_token {
        vars.push(("SLACK_BOT_TOKEN", BOT_TOKEN));
    }
    let config = Arc::new(test_config(&vars));
    assert_eq!(
        Policy::from_config(&config),
        Policy {
            allow_http: true,
            allow_private: true
        }
    );
    let server = MockServer::start().await;
    let base = Url::parse(&server.uri()).unwrap();
    let endpoints = Endpoints {
        slack_api: base.join("/api/").unwrap(),
        github_api: base.clone(),
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        total: options.total_timeout,
    };
    let integrations = Integrations::with(&config, endpoints, timeouts);
    let state = AppState::with_integrations(config, store, integrations);

    let tenant = unique("acme");
    let ctx = system();
    tenancy::create_tenant(&state.audit, Some(tenant.clone()), "Acme", Tier::Pro, &ctx)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for role in [Role::Owner, Role::Admin, Role::Member] {
        let user = unique(role.as_str());
        let email = format!("{}@acme.example", role.as_str());
        tenancy::put_member(
            state.store.as_ref(),
            &state.audit,
            &tenant,
            &user,
            role,
            &email,
            &ctx,
        )
        .await
        .unwrap();
        tokens.push(user_token(&user, &email));
    }

    let mut secrets: Vec<String> = [BOT_TOKEN, JIRA_TOKEN, GITHUB_TOKEN, TRIGGER_TOKEN, BEARER]
        .map(String::from)
        .to_vec();
    if options.configure {
        let uri = server.uri();
        let signing = configure(
            &state,
            &tenant,
            json!({
                "slack_channel_override": "#ops-alerts",
                "jira_enabled": true,
                "jira_base_url": uri,
                "jira_email": "jira-bot@acme.example",
                "jira_project_key": "OPS",
                "jira_api_token": JIRA_TOKEN,
                "workflow_github_enabled": true,
                "workflow_github_owner": "acme",
                "workflow_github_repo": "deploy",
                "workflow_github_workflow_id": "valdrix.yml",
                "workflow_github_token": GITHUB_TOKEN,
                "workflow_gitlab_enabled": true,
                "workflow_gitlab_base_url": uri,
                "workflow_gitlab_project_id": "42",
                "workflow_gitlab_trigger_token": TRIGGER_TOKEN,
                "workflow_webhook_enabled": true,
                "workflow_webhook_url": format!("{uri}{HOOK_PATH}"),
                "workflow_webhook_bearer_token": BEARER,
            }),
        )
        .await;
        secrets.push(signing.expect("the webhook got a signing secret"));
    }
    if options.tier != Tier::Pro {
        tenancy::set_tier(
            state.store.as_ref(),
            &state.audit,
            &tenant,
            options.tier,
            &ctx,
        )
        .await
        .unwrap();
    }
    let [owner, admin, member] = <[String; 3]>::try_from(tokens).unwrap();
    Fixture {
        app: layers(notification_test::router(state.clone()), &state.config),
        state,
        tenant,
        server,
        owner,
        admin,
        member,
        owner_email: "owner@acme.example".into(),
        secrets,
    }
}

/// Settings through the real update path; the new signing secret, if any.
async fn configure(state: &SharedState, tenant: &str, update: Value) -> Option<String> {
    let update: SettingsUpdate = serde_json::from_value(update).unwrap();
    let (current, version) = settings::load(state.store.as_ref(), tenant).await.unwrap();
    let applied = settings::apply(
        &current,
        update,
        Tier::Pro,
        tenant,
        &state.keys,
        Policy::from_config(&state.config),
    )
    .unwrap_or_else(|r| panic!("settings refused: {r:?}"));
    let saved = settings::save(&state.audit, tenant, &applied, version, &system())
        .await
        .unwrap();
    assert!(matches!(saved, Saved::Ok { .. }));
    applied
        .new_signing_secret
        .map(|s| s.expose_secret().to_owned())
}

fn event_name(channel: &str) -> String {
    format!("notification-test-{channel}")
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

async fn post(f: &Fixture, channel: &str, token: &str) -> Answer {
    post_with_body(f, channel, token, None).await
}

async fn post_with_body(f: &Fixture, channel: &str, token: &str, body: Option<&str>) -> Answer {
    let mut request = event_request(&event_name(channel), &[("REPLACE_WITH_TOKEN", token)]);
    if let Some(body) = body {
        let (mut parts, _) = request.into_parts();
        parts.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        request = lambda_http::Request::from_parts(parts, lambda_http::Body::from(body));
    }
    let (status, headers, body) = call(&f.app, request).await;
    Answer {
        status,
        headers,
        body,
    }
}

async fn head_seq(f: &Fixture) -> u64 {
    f.state
        .audit
        .head(&f.tenant)
        .await
        .unwrap()
        .map_or(0, |h| h.seq)
}

async fn all_events(f: &Fixture) -> Vec<AuditEvent> {
    let (events, next) = f
        .state
        .audit
        .page(&f.tenant, 500, None, false)
        .await
        .unwrap();
    assert!(next.is_none());
    events
}

/// Posts and checks that exactly one `notification.test` event was appended.
async fn post_audited(f: &Fixture, channel: &str, token: &str) -> (Answer, AuditEvent) {
    let before = head_seq(f).await;
    let answer = post(f, channel, token).await;
    assert_eq!(
        head_seq(f).await,
        before + 1,
        "{channel}: exactly one audit event per run ({})",
        answer.body
    );
    let event = all_events(f).await.pop().unwrap();
    assert_eq!(event.event_type, "notification.test");
    assert_eq!(
        event.resource.as_deref(),
        Some(format!("integration/{channel}").as_str())
    );
    assert_eq!(event.details["channel"], channel);
    assert!(matches!(event.actor, Actor::User { .. }));
    assert!(event.request_id.is_some());
    (answer, event)
}

async fn post_unaudited(f: &Fixture, channel: &str, token: &str, body: Option<&str>) -> Answer {
    let before = head_seq(f).await;
    let answer = post_with_body(f, channel, token, body).await;
    assert_eq!(
        head_seq(f).await,
        before,
        "{channel}: refused runs are not audited"
    );
    answer
}

fn is_problem(a: &Answer) -> bool {
    a.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        == Some("application/problem+json")
}

fn assert_uuid(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("run_id: {v}"));
    assert_eq!(s.len(), 36, "{s}");
    assert_eq!(s.matches('-').count(), 4, "{s}");
}

async fn mount_slack_ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"ok": true, "channel": "C0123456789", "ts": "1700000000.000100"}),
        ))
        .mount(server)
        .await;
}

async fn mount_jira_ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "10001", "key": "OPS-1"})),
        )
        .mount(server)
        .await;
}

async fn mount_workflow(server: &MockServer, github: u16, gitlab: u16, hook: u16) {
    Mock::given(method("POST"))
        .and(path(GITHUB_PATH))
        .respond_with(
            ResponseTemplate::new(github)
                .set_body_json(json!({"message": format!("GitHub says {github}")})),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(GITLAB_PATH))
        .respond_with(
            ResponseTemplate::new(gitlab).set_body_json(if gitlab < 300 {
                json!({"id": 7, "status": "created"})
            } else {
                json!({"message": "pipeline refused"})
            }),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(hook))
        .mount(server)
        .await;
}

/// No planted secret in any answer (status line aside: body and headers) or
/// in any audit event of the tenant.
async fn assert_no_secret_anywhere(f: &Fixture, answers: &[Answer]) {
    let events = serde_json::to_string(&all_events(f).await).unwrap();
    for answer in answers {
        let mut text = answer.body.to_string();
        for (name, value) in &answer.headers {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        for secret in &f.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "secret in a response: {text}"
            );
        }
    }
    for secret in &f.secrets {
        assert!(!events.contains(secret.as_str()), "secret in the audit log");
    }
}

async fn assert_chain_verifies(f: &Fixture) {
    let verification =
        serde_json::to_value(f.state.audit.verify(&f.tenant).await.unwrap()).unwrap();
    assert_eq!(verification["ok"], true, "{verification}");
}

async fn happy_path(store: DynStore) {
    let f = fixture(store, Options::default()).await;
    mount_slack_ok(&f.server).await;
    mount_jira_ok(&f.server).await;
    mount_workflow(&f.server, 204, 201, 200).await;

    let (slack, event) = post_audited(&f, "slack", &f.owner).await;
    assert_eq!(slack.status, 200, "{}", slack.body);
    assert_eq!(slack.body["status"], "success");
    assert_eq!(slack.body["channel"], "slack");
    assert_uuid(&slack.body["run_id"]);
    let targets = slack.body["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["target"], "slack");
    assert_eq!(targets[0]["ok"], true);
    assert_eq!(targets[0]["status_code"], 200);
    assert!(targets[0]["latency_ms"].is_u64());
    assert!(targets[0]["detail"].is_string());
    assert!(event.success);
    assert_eq!(event.details["outcome"], "success");
    assert_eq!(event.details["run_id"], slack.body["run_id"]);
    assert_eq!(event.details["status_codes"], json!([200]));

    let (jira, event) = post_audited(&f, "jira", &f.admin).await;
    assert_eq!(jira.status, 200, "{}", jira.body);
    assert_eq!(jira.body["targets"][0]["target"], "jira");
    assert_eq!(jira.body["targets"][0]["external_id"], "OPS-1");
    assert!(event.success);

    let (workflow, event) = post_audited(&f, "workflow", &f.owner).await;
    assert_eq!(workflow.status, 200, "{}", workflow.body);
    assert_eq!(workflow.body["status"], "success");
    let kinds: Vec<&str> = workflow.body["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["github_actions", "gitlab_ci", "webhook"]);
    assert!(event.success);
    assert_eq!(event.details["targets"].as_array().unwrap().len(), 3);

    // The test message is labelled, carries the run id, and never the caller's email.
    let received = f.server.received_requests().await.unwrap();
    let slack_body = received
        .iter()
        .find(|r| r.url.path() == "/api/chat.postMessage")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert!(
        slack_body.contains("Valdrix connectivity test"),
        "{slack_body}"
    );
    for r in &received {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(&f.owner_email), "{body}");
        assert!(!body.contains("admin@acme.example"), "{body}");
    }
    // Every workflow target sees the documented event type
    // (docs/integrations/workflow_automation.md), whatever its wire format.
    let event_type = notify::test_event_type(notify::Channel::Workflow);
    assert_eq!(event_type, "workflow.connectivity_test");
    for path in [GITHUB_PATH, GITLAB_PATH, HOOK_PATH] {
        let request = received.iter().find(|r| r.url.path() == path).unwrap();
        let body = String::from_utf8_lossy(&request.body);
        assert!(body.contains(event_type), "{path}: {body}");
    }
    let hook = received.iter().find(|r| r.url.path() == HOOK_PATH).unwrap();
    let hook_body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(hook_body["type"], event_type);
    assert_eq!(
        hook.headers.get("webhook-id").unwrap().to_str().unwrap(),
        workflow.body["run_id"].as_str().unwrap()
    );

    assert_no_secret_anywhere(&f, &[slack, jira, workflow]).await;
    assert_chain_verifies(&f).await;
}

#[tokio::test]
async fn happy_path_on_sqlite() {
    happy_path(valdrix_tests::sqlite_store().await).await;
}

#[tokio::test]
async fn happy_path_on_dynamodb_local() {
    happy_path(valdrix_tests::dynamo_store().await).await;
}

#[tokio::test]
async fn each_call_really_sends_nothing_is_deduplicated() {
    let f = fixture(valdrix_tests::sqlite_store().await, Options::default()).await;
    mount_slack_ok(&f.server).await;
    let first = post(&f, "slack", &f.owner).await;
    let second = post(&f, "slack", &f.owner).await;
    assert_eq!((first.status, second.status), (200, 200));
    assert_ne!(first.body["run_id"], second.body["run_id"]);
    let posts = f.server.received_requests().await.unwrap();
    assert_eq!(posts.len(), 2, "the second test posts again");
}

#[tokio::test]
async fn slack_refusal_is_a_502_with_slacks_reason_and_a_failed_audit_event() {
    let f = fixture(valdrix_tests::sqlite_store().await, Options::default()).await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
        )
        .mount(&f.server)
        .await;
    let (answer, event) = post_audited(&f, "slack", &f.owner).await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(is_problem(&answer));
    assert_eq!(answer.body["status"], 502);
    assert_eq!(answer.body["title"], "Bad Gateway");
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(detail.contains("channel_not_found"), "{detail}");
    assert_uuid(&answer.body["run_id"]);
    assert_eq!(answer.body["channel"], "slack");
    assert_eq!(answer.body["targets"][0]["ok"], false);
    assert_eq!(answer.body["targets"][0]["target"], "slack");

    assert!(!event.success);
    assert_eq!(event.details["outcome"], "failed");
    assert_eq!(event.details["http_status"], 502);
    assert_eq!(event.details["run_id"], answer.body["run_id"]);
    assert!(
        event.details["targets"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("channel_not_found")
    );
    assert_no_secret_anywhere(&f, &[answer]).await;
}

#[tokio::test]
async fn not_configured_is_a_400_naming_what_is_missing_and_is_audited() {
    let f = fixture(
        valdrix_tests::sqlite_store().await,
        Options {
            configure: false,
            ..Options::default()
        },
    )
    .await;
    let (slack, event) = post_audited(&f, "slack", &f.owner).await;
    assert_eq!(slack.status, 400, "{}", slack.body);
    assert!(is_problem(&slack));
    let detail = slack.body["detail"].as_str().unwrap();
    assert!(detail.contains("slack_channel_override"), "{detail}");
    assert!(
        !detail.contains("SLACK_BOT_TOKEN"),
        "the operator token is set: {detail}"
    );
    assert_uuid(&slack.body["run_id"]);
    assert!(!event.success);
    assert_eq!(event.details["outcome"], "not_configured");
    assert_eq!(event.details["http_status"], 400);

    let (jira, _) = post_audited(&f, "jira", &f.owner).await;
    assert_eq!(jira.status, 400);
    let detail = jira.body["detail"].as_str().unwrap();
    for field in ["jira_enabled", "jira_base_url", "jira_api_token"] {
        assert!(detail.contains(field), "{detail}");
    }

    let (workflow, _) = post_audited(&f, "workflow", &f.owner).await;
    assert_eq!(workflow.status, 400);
    assert!(
        workflow.body["detail"]
            .as_str()
            .unwrap()
            .contains("no workflow target is enabled"),
        "{}",
        workflow.body
    );
    assert!(f.server.received_requests().await.unwrap().is_empty());
    assert_chain_verifies(&f).await;
}

#[tokio::test]
async fn a_missing_operator_bot_token_is_named_and_no_env_channel_is_used() {
    let f = fixture(
        valdrix_tests::sqlite_store().await,
        Options {
            bot_token: false,
            ..Options::default()
        },
    )
    .await;
    mount_slack_ok(&f.server).await;
    let (answer, _) = post_audited(&f, "slack", &f.owner).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("SLACK_BOT_TOKEN is not configured by the operator"),
        "{detail}"
    );
    assert!(!detail.contains("slack_channel_override"), "{detail}");
    assert!(f.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn members_are_refused_and_admins_allowed() {
    let f = fixture(valdrix_tests::sqlite_store().await, Options::default()).await;
    mount_slack_ok(&f.server).await;
    for channel in ["slack", "jira", "workflow"] {
        let answer = post_unaudited(&f, channel, &f.member, None).await;
        assert_eq!(answer.status, 403, "{channel}: {}", answer.body);
        assert!(is_problem(&answer));
        assert!(
            answer.body["detail"]
                .as_str()
                .unwrap()
                .contains("admin or owner")
        );
    }
    let no_token = post_unaudited(&f, "slack", "not-a-token", None).await;
    assert_eq!(no_token.status, 401);
    let (admin, _) = post_audited(&f, "slack", &f.admin).await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert!(f.server.received_requests().await.unwrap().len() == 1);
}

#[tokio::test]
async fn starter_tier_may_test_slack_but_not_jira_or_workflow() {
    let f = fixture(
        valdrix_tests::sqlite_store().await,
        Options {
            tier: Tier::Starter,
            ..Options::default()
        },
    )
    .await;
    mount_slack_ok(&f.server).await;
    mount_jira_ok(&f.server).await;
    mount_workflow(&f.server, 204, 201, 200).await;
    for channel in ["jira", "workflow"] {
        let answer = post_unaudited(&f, channel, &f.owner, None).await;
        assert_eq!(answer.status, 403, "{channel}: {}", answer.body);
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(detail.contains("incident_integrations"), "{detail}");
        assert!(detail.contains("current tier: starter"), "{detail}");
    }
    let (slack, _) = post_audited(&f, "slack", &f.owner).await;
    assert_eq!(slack.status, 200, "{}", slack.body);
    let paths: Vec<String> = f
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/api/chat.postMessage"]);
}

#[tokio::test]
async fn workflow_partial_success_is_a_207_and_total_failure_a_502() {
    let f = fixture(valdrix_tests::sqlite_store().await, Options::default()).await;
    let mut answers = Vec::new();

    mount_workflow(&f.server, 204, 500, 200).await;
    let (partial, event) = post_audited(&f, "workflow", &f.owner).await;
    assert_eq!(partial.status, 207, "{}", partial.body);
    assert!(!is_problem(&partial));
    assert_eq!(partial.body["status"], "partial");
    assert_uuid(&partial.body["run_id"]);
    let oks: Vec<(String, bool)> = partial.body["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["target"].as_str().unwrap().to_owned(), t["ok"] == true))
        .collect();
    assert_eq!(
        oks,
        [
            ("github_actions".to_owned(), true),
            ("gitlab_ci".to_owned(), false),
            ("webhook".to_owned(), true)
        ]
    );
    assert_eq!(partial.body["targets"][1]["status_code"], 500);
    assert!(
        partial.body["targets"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("pipeline refused")
    );
    assert!(!event.success);
    assert_eq!(event.details["outcome"], "partial");
    assert_eq!(event.details["status_codes"], json!([204, 500, 200]));
    answers.push(partial);

    f.server.reset().await;
    mount_workflow(&f.server, 422, 400, 503).await;
    let (failed, event) = post_audited(&f, "workflow", &f.owner).await;
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert!(is_problem(&failed));
    let detail = failed.body["detail"].as_str().unwrap();
    assert!(detail.contains("all 3 targets"), "{detail}");
    for part in [
        "github_actions: GitHub answered 422",
        "gitlab_ci: GitLab answered 400",
        "webhook: receiver answered 503",
    ] {
        assert!(detail.contains(part), "{detail}");
    }
    assert_eq!(failed.body["targets"].as_array().unwrap().len(), 3);
    assert_uuid(&failed.body["run_id"]);
    assert!(!event.success);
    assert_eq!(event.details["outcome"], "failed");
    answers.push(failed);

    assert_no_secret_anywhere(&f, &answers).await;
    assert_chain_verifies(&f).await;
}

#[tokio::test]
async fn a_target_that_hangs_past_the_timeout_is_a_504() {
    let f = fixture(
        valdrix_tests::sqlite_store().await,
        Options {
            total_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "C1", "ts": "1.2"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&f.server)
        .await;
    let started = std::time::Instant::now();
    let (answer, event) = post_audited(&f, "slack", &f.owner).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert!(is_problem(&answer));
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{}",
        answer.body
    );
    assert_eq!(answer.body["targets"][0]["status_code"], Value::Null);
    assert_eq!(answer.body["targets"][0]["retryable"], true);
    assert_eq!(event.details["outcome"], "timed_out");
    assert!(!event.success);

    // One hanging workflow target among answering ones: the others still count.
    mount_workflow(&f.server, 204, 201, 200).await;
    Mock::given(method("POST"))
        .and(path(GITLAB_PATH))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)))
        .with_priority(1)
        .mount(&f.server)
        .await;
    let (workflow, _) = post_audited(&f, "workflow", &f.owner).await;
    assert_eq!(workflow.status, 207, "{}", workflow.body);
}

#[tokio::test]
async fn only_an_empty_body_or_empty_object_is_accepted() {
    let f = fixture(valdrix_tests::sqlite_store().await, Options::default()).await;
    mount_slack_ok(&f.server).await;
    let before = head_seq(&f).await;
    let empty_object = post_with_body(&f, "slack", &f.owner, Some("{}")).await;
    assert_eq!(empty_object.status, 200, "{}", empty_object.body);
    assert_eq!(head_seq(&f).await, before + 1);
    for (bad, status) in [
        (r##"{"channel": "#elsewhere"}"##, 422),
        ("[]", 422),
        ("{", 400),
        ("  ", 400),
    ] {
        let answer = post_unaudited(&f, "slack", &f.owner, Some(bad)).await;
        assert_eq!(answer.status, status, "{bad:?}: {}", answer.body);
        assert!(is_problem(&answer));
    }
    assert_eq!(f.server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn secrets_echoed_by_integrations_never_come_back() {
    let f = fixture(valdrix_tests::sqlite_store().await, Options::default()).await;
    // Receivers that quote what they were sent in their error messages.
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"errorMessages": [format!("token {JIRA_TOKEN} is not valid")]}),
            ),
        )
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path(GITHUB_PATH))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": format!("Bad credentials {GITHUB_TOKEN}")})),
        )
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path(GITLAB_PATH))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": format!("token {TRIGGER_TOKEN} unknown")})),
        )
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad {BEARER}")))
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": BOT_TOKEN})),
        )
        .mount(&f.server)
        .await;

    let mut answers = Vec::new();
    for channel in ["slack", "jira", "workflow"] {
        let (answer, event) = post_audited(&f, channel, &f.owner).await;
        assert_eq!(answer.status, 502, "{channel}: {}", answer.body);
        assert!(!event.success);
        answers.push(answer);
    }
    assert!(
        answers[1].body["detail"]
            .as_str()
            .unwrap()
            .contains("Jira answered 401")
    );
    assert_no_secret_anywhere(&f, &answers).await;
    assert_chain_verifies(&f).await;
}

/// The event type a tenant's CI rule matches on is one name in the code, the
/// integration guide and the API description.
#[test]
fn the_workflow_event_type_is_the_documented_one() {
    let sent = notify::test_event_type(notify::Channel::Workflow);
    for doc in [
        "docs/integrations/workflow_automation.md",
        "docs/openapi.yaml",
    ] {
        let path = format!("{}/../../{doc}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("`{sent}`")),
            "{doc} does not name {sent}"
        );
        assert!(
            !text.contains("`notification.test` event"),
            "{doc} names the audit type as the event"
        );
    }
}
