//! The leak suite: known secrets are planted everywhere a secret can live —
//! every secret-class runtime variable, every tenant integration credential,
//! the webhook signing secret, and tokens and keys in request headers — then
//! every route of docs/openapi.yaml is driven (happy paths, bad input, wrong
//! role, wrong credentials, receivers that echo what they were sent, a store
//! that is down), with a policy fan-out, an evidence capture and a compliance
//! pack. No planted secret, nor its base64, hex or URL encoding, may appear in
//! any response (status, headers, body), any log line (the production JSON
//! format at TRACE), any byte of the store's files (audit events, settings
//! ciphertext, deliveries, dead letters, evidence) or any file of the pack.

mod support;

use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use http::Method;
use serde_json::{Value, json};
use support::scan::{Secret, find_leaks, secret};
use support::{Answer, Req, app, block_event, send, with_pack_store};
use valdrix_shared::config::StoreUrl;
use valdrix_shared::config::vars::{self, Kind};
use valdrix_shared::policy::deadletter::StoreDeadLetters;
use valdrix_shared::policy::dispatch::Dispatcher;
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::state::AppState;
use valdrix_tests::{
    ADMIN_API_KEY, BEARER_TOKEN, BOT_TOKEN, CSRF_SECRET_KEY, ENCRYPTION_KEY, FakeWorld,
    GITHUB_DISPATCH_PATH, GITHUB_TOKEN, GITLAB_TOKEN, JIRA_TOKEN, JWT_SECRET, WEBHOOK_PATH,
    openapi_routes, unique,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SETTINGS: &str = "/api/v1/settings/notifications";
/// The salt's 32 raw bytes; the variable holds their base64.
const KDF_SALT_BYTES: &[u8; 32] = b"planted-kdf-salt:32-bytes-long!!";
const RETIRED_KEY: &str = "planted-retired-encryption-key-9d8c7b6a5f4e3d2c";
/// Tenant credentials a PUT sets (FakeWorld's first ones are planted too).
const JIRA_TOKEN_2: &str = "ATATT-planted+jira/token=2b7e41";
const GITHUB_TOKEN_2: &str = "ghp_planted0github0token0second0c3";
const GITLAB_TOKEN_2: &str = "glptt-planted-gitlab+trigger/2d9f";
const BEARER_TOKEN_2: &str = "planted-webhook-bearer+token/5a1e";
/// Credentials a caller gets wrong.
const GARBAGE_BEARER: &str = "planted-garbage-bearer-token-7c2e90";
const WRONG_ADMIN_KEY: &str = "planted-wrong-admin-key-4f81d2aa9c3b7e6f";

/// Every log line of this test binary, in the production format.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        // Everything at TRACE, dependencies included; wiremock is the test's
        // stand-in for Slack and Jira, not part of the system, and it prints
        // what it was sent.
        let installed = valdrix_shared::telemetry::install(
            valdrix_shared::telemetry::filter(Some("trace,wiremock=off")),
            move || Sink(sink.clone()),
        );
        assert!(installed, "the log capture must be the only subscriber");
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A value for every secret-class runtime variable: the test configuration's
/// for those it sets, a distinctive planted one for the rest. A secret
/// variable added to the contract is planted too, or the configuration fails.
fn planted_vars() -> Vec<(&'static str, String)> {
    let planted: Vec<(&'static str, String)> = vars::KNOWN
        .iter()
        .filter(|v| v.kind == Kind::Secret)
        .map(|v| {
            let value = match v.name {
                vars::SUPABASE_JWT_SECRET => JWT_SECRET.to_owned(),
                vars::ENCRYPTION_KEY => ENCRYPTION_KEY.to_owned(),
                vars::CSRF_SECRET_KEY => CSRF_SECRET_KEY.to_owned(),
                vars::ADMIN_API_KEY => ADMIN_API_KEY.to_owned(),
                vars::SLACK_BOT_TOKEN => BOT_TOKEN.to_owned(),
                vars::KDF_SALT => base64::engine::general_purpose::STANDARD.encode(KDF_SALT_BYTES),
                vars::ENCRYPTION_KEY_FALLBACKS => json!([RETIRED_KEY]).to_string(),
                other => format!("planted+{}/8e3b1f0a", other.to_ascii_lowercase()),
            };
            (v.name, value)
        })
        .collect();
    assert!(planted.len() >= 10, "secret variables: {planted:?}");
    planted
}

/// A user token signed with a key the service does not know.
fn forged_token(sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": sub, "aud": "authenticated", "iat": now, "exp": now + 600}),
        &jsonwebtoken::EncodingKey::from_secret(b"planted-forger-key-0f1e2d3c4b5a69788796a5b4"),
    )
    .expect("sign")
}

/// The planted world, and every answer it gave.
struct Leaky {
    vars: Vec<(&'static str, String)>,
    world: FakeWorld,
    /// The store's files, and `packs/` for the object store.
    dir: tempfile::TempDir,
    app: axum::Router,
    tenant: String,
    owner: String,
    member: String,
    forged: String,
    event_id: String,
    answers: Vec<(String, Answer)>,
    /// The signing secret a PUT rotated, and the one answer that may show it.
    shown_once: Option<(String, usize)>,
}

impl Leaky {
    async fn new() -> Self {
        let vars = planted_vars();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = valdrix_shared::store::open(&StoreUrl::Sqlite {
            path: dir.path().join("store.sqlite").display().to_string(),
        })
        .await
        .expect("open the store");
        store.ensure_table().await.expect("schema");
        let extra: Vec<(&str, &str)> = vars
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain([("LLM_PROVIDER", "openai")])
            .collect();
        let mut world = FakeWorld::with_vars(store, Duration::from_secs(2), &extra).await;
        with_pack_store(&mut world, &dir.path().join("packs"));
        world.all_succeed().await;
        let tenant = world.tenant.clone();
        Self {
            vars,
            app: app(world.state.clone()),
            owner: world.token("owner"),
            member: world.token("member"),
            forged: forged_token(&format!("{tenant}-owner")),
            world,
            dir,
            tenant,
            event_id: unique("evt"),
            answers: Vec::new(),
            shown_once: None,
        }
    }

    async fn send(&mut self, label: impl Into<String>, req: Req) -> Answer {
        let answer = send(&self.app, &req).await;
        self.answers.push((label.into(), answer.clone()));
        answer
    }

    async fn expect(&mut self, label: &str, req: Req, status: u16) -> Answer {
        let answer = self.send(label, req).await;
        assert_eq!(answer.status, status, "{label}: {}", answer.text());
        answer
    }

    /// A receiver that refuses once, echoing the credential it was sent.
    async fn echo_once(&self, p: &str, status: u16, body: Value) {
        Mock::given(method("POST"))
            .and(path(p.to_owned()))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .with_priority(1)
            .up_to_n_times(1)
            .mount(&self.world.server)
            .await;
    }
}

/// Every tenant credential rotated through the route, and refused updates
/// that carry credentials.
async fn settings_calls(l: &mut Leaky) {
    let put = Req::new(Method::PUT, SETTINGS);
    let rotated = l
        .expect(
            "settings PUT",
            put.clone().bearer(&l.owner.clone()).json(&json!({
                "jira_api_token": JIRA_TOKEN_2, "workflow_github_token": GITHUB_TOKEN_2,
                "workflow_gitlab_trigger_token": GITLAB_TOKEN_2,
                "workflow_webhook_bearer_token": BEARER_TOKEN_2,
                "rotate_workflow_webhook_signing_secret": true,
            })),
            200,
        )
        .await;
    let signing_secret = rotated.json()["workflow_webhook_signing_secret"]
        .as_str()
        .expect("a new signing secret is shown once")
        .to_owned();
    l.shown_once = Some((signing_secret, l.answers.len() - 1));
    let owner = l.owner.clone();
    for (label, body, status) in [
        (
            "bad input",
            json!({"jira_base_url": "not a url", "jira_api_token": JIRA_TOKEN_2}),
            422,
        ),
        ("wrong type", json!({"slack_enabled": GITHUB_TOKEN_2}), 422),
        (
            "unknown field",
            json!({"jira_api_tokens": GITLAB_TOKEN_2}),
            422,
        ),
    ] {
        let req = put.clone().bearer(&owner).json(&body);
        l.expect(&format!("settings PUT, {label}"), req, status)
            .await;
    }
    let malformed = format!("{{\"jira_api_token\": \"{JIRA_TOKEN_2}\"").into_bytes();
    let req = put
        .clone()
        .bearer(&owner)
        .raw("application/json", malformed);
    l.expect("settings PUT, malformed", req, 400).await;
    let member = l.member.clone();
    let req = put
        .bearer(&member)
        .json(&json!({"workflow_github_token": GITHUB_TOKEN_2}));
    l.expect("settings PUT, member", req, 403).await;
    l.expect("settings GET", Req::get(SETTINGS).bearer(&member), 200)
        .await;
}

/// Each test call twice: against a receiver that echoes the credential in
/// its refusal, then one that accepts.
async fn test_calls(l: &mut Leaky) {
    let signing_secret = l.shown_once.clone().expect("rotated").0;
    l.echo_once(
        "/api/chat.postMessage",
        200,
        json!({"ok": false, "error": BOT_TOKEN}),
    )
    .await;
    l.echo_once(
        "/rest/api/3/issue",
        401,
        json!({"errorMessages": [format!("token {JIRA_TOKEN_2} rejected")]}),
    )
    .await;
    l.echo_once(
        WEBHOOK_PATH,
        500,
        json!({"error": format!("Bearer {BEARER_TOKEN_2}; secret {signing_secret}")}),
    )
    .await;
    let owner = l.owner.clone();
    for (channel, echoed) in [("slack", 502), ("jira", 502), ("workflow", 207)] {
        let req = Req::new(Method::POST, format!("{SETTINGS}/test-{channel}")).bearer(&owner);
        l.expect(&format!("test-{channel}, echoed"), req.clone(), echoed)
            .await;
        l.expect(&format!("test-{channel}"), req, 200).await;
    }
}

/// An evidence capture, its replay, the list; a policy event fanned out
/// (GitHub refusing for good, echoing its token, so it ends dead-lettered);
/// operator calls; the compliance pack and its download.
async fn product_calls(l: &mut Leaky) {
    let owner = l.owner.clone();
    let evidence = format!("{SETTINGS}/acceptance-evidence");
    let capture = Req::new(Method::POST, format!("{evidence}/capture"))
        .bearer(&owner)
        .header("idempotency-key", "leak-capture-1");
    l.expect("capture", capture.clone(), 200).await;
    l.expect("capture replay", capture, 200).await;
    l.expect("evidence list", Req::get(&evidence).bearer(&owner), 200)
        .await;

    let event = block_event(&l.event_id, &l.tenant);
    let req = Req::new(Method::POST, "/api/v1/policy/events")
        .admin(ADMIN_API_KEY)
        .json(&event);
    l.expect("policy event", req, 202).await;
    l.echo_once(
        GITHUB_DISPATCH_PATH,
        401,
        json!({"message": format!("Bad credentials: {GITHUB_TOKEN_2}")}),
    )
    .await;
    let sender = NotifySender(l.world.state.notifying());
    let dead = StoreDeadLetters(l.world.state.store.clone());
    let dispatcher = Dispatcher {
        store: l.world.state.store.as_ref(),
        audit: &l.world.state.audit,
        sender: &sender,
        dead_letters: &dead,
    };
    let later = chrono::Utc::now().timestamp() + 3600;
    let swept = dispatcher.sweep(later).await.expect("sweep");
    assert_eq!(swept.len(), 5, "{swept:?}");
    let req = Req::get(format!("/api/v1/policy/events/{}", l.event_id)).bearer(&owner);
    l.expect("policy event GET", req, 200).await;

    let tenant = l.tenant.clone();
    let remediation = json!({"id": "rem-1", "action": "stop_idle_instance",
        "resource_id": "i-0abc", "provider": "aws", "status": "proposed",
        "estimated_monthly_savings": "120.00"});
    let req = Req::new(
        Method::POST,
        format!("/api/v1/admin/tenants/{tenant}/remediations"),
    )
    .admin(ADMIN_API_KEY)
    .json(&remediation);
    l.expect("remediation", req, 201).await;
    let req = Req::new(Method::POST, "/api/v1/admin/tenants")
        .admin(ADMIN_API_KEY)
        .json(&json!({"id": unique("beta"), "name": "Beta", "tier": "starter"}));
    l.expect("tenant create", req, 201).await;

    let req = Req::get(
        "/api/v1/audit/compliance-pack?include_focus_export=true&include_savings_proof=true\
         &include_realized_savings=true&include_close_package=true&close_enforce_finalized=false",
    )
    .bearer(&owner);
    let pack = l.expect("compliance pack", req, 303).await;
    let location = pack.header("location").expect("a signed URL").to_owned();
    let download = location
        .strip_prefix("http://api.example.com")
        .unwrap_or(&location)
        .to_owned();
    l.expect("pack download", Req::get(download), 200).await;
}

/// Every route of the OpenAPI document with missing or wrong credentials,
/// the wrong role, and planted junk in the body and the query.
async fn every_route(l: &mut Leaky) {
    let junk = json!({"unexpected": JIRA_TOKEN_2, "jira_api_token": 42});
    let query = format!("?cursor={GITLAB_TOKEN_2}&token={GITHUB_TOKEN_2}");
    let (owner, member, forged) = (l.owner.clone(), l.member.clone(), l.forged.clone());
    for (verb, template) in openapi_routes() {
        let route = template
            .replace("{tenant_id}", &l.tenant)
            .replace("{user_id}", "nobody")
            .replace("{event_id}", &l.event_id);
        let verb: Method = verb.parse().expect("a method");
        let plain = Req::new(verb.clone(), &route);
        let with_junk = Req::new(verb.clone(), format!("{route}{query}")).json(&junk);
        let variants = [
            ("no credentials", plain.clone()),
            ("garbage bearer", plain.clone().bearer(GARBAGE_BEARER)),
            ("forged token", plain.clone().bearer(&forged)),
            ("wrong admin key", plain.clone().admin(WRONG_ADMIN_KEY)),
            ("member", plain.bearer(&member)),
            ("owner, junk", with_junk.clone().bearer(&owner)),
            ("admin key, junk", with_junk.admin(ADMIN_API_KEY)),
        ];
        for (how, req) in variants {
            let label = format!("{verb} {template}, {how}");
            let answer = l.send(label.clone(), req).await;
            assert!(answer.status < 500, "{label}: {}", answer.text());
        }
    }
    let req = Req::get("/api/v1/nothing-here").bearer(&owner);
    l.expect("unknown route", req, 404).await;
}

/// The same credentials against a store that is down: 503s, and whatever the
/// store client logs (at TRACE) while it fails.
async fn store_down_calls(l: &mut Leaky) {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let down = valdrix_shared::store::open(&StoreUrl::DynamoDb {
        table: "down".into(),
        endpoint: Some(format!("http://127.0.0.1:{closed_port}")),
        region: Some("us-east-1".into()),
    })
    .await
    .expect("open");
    let state = &l.world.state;
    let down_app = app(AppState::with_integrations(
        state.config.clone(),
        down,
        state.integrations.clone(),
    ));
    let mut calls = tokio::task::JoinSet::new();
    for (label, req) in [
        (
            "settings PUT, store down",
            Req::new(Method::PUT, SETTINGS)
                .bearer(&l.owner)
                .json(&json!({"jira_api_token": JIRA_TOKEN_2})),
        ),
        (
            "policy event, store down",
            Req::new(Method::POST, "/api/v1/policy/events")
                .admin(ADMIN_API_KEY)
                .json(&block_event(&unique("evt"), &l.tenant)),
        ),
        (
            "tenant create, store down",
            Req::new(Method::POST, "/api/v1/admin/tenants")
                .admin(ADMIN_API_KEY)
                .json(&json!({"name": "Gamma", "tier": "pro"})),
        ),
        (
            "test-jira, store down",
            Req::new(Method::POST, format!("{SETTINGS}/test-jira")).bearer(&l.owner),
        ),
        ("health, store down", Req::get("/health")),
    ] {
        let app = down_app.clone();
        calls.spawn(async move { (label, send(&app, &req).await) });
    }
    while let Some(done) = calls.join_next().await {
        let (label, answer) = done.expect("call");
        assert_eq!(answer.status, 503, "{label}: {}", answer.text());
        l.answers.push((label.into(), answer));
    }
}

/// Every planted secret but the rotated signing secret (handled apart).
fn planted_secrets(l: &Leaky) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = l
        .vars
        .iter()
        .map(|(name, value)| secret(*name, value))
        .collect();
    secrets.push(secret("KDF_SALT (bytes)", KDF_SALT_BYTES));
    secrets.push(secret("ENCRYPTION_KEY_FALLBACKS (key)", RETIRED_KEY));
    for (name, value) in [
        ("jira token", JIRA_TOKEN),
        ("github token", GITHUB_TOKEN),
        ("gitlab token", GITLAB_TOKEN),
        ("webhook bearer", BEARER_TOKEN),
        ("jira token (PUT)", JIRA_TOKEN_2),
        ("github token (PUT)", GITHUB_TOKEN_2),
        ("gitlab token (PUT)", GITLAB_TOKEN_2),
        ("webhook bearer (PUT)", BEARER_TOKEN_2),
        ("signing secret (first)", &l.world.signing_secret),
        ("garbage bearer", GARBAGE_BEARER),
        ("wrong admin key", WRONG_ADMIN_KEY),
    ] {
        secrets.push(secret(name, value));
    }
    // A JWT in full, and its signature alone.
    for (name, token) in [
        ("owner JWT", &l.owner),
        ("member JWT", &l.member),
        ("forged JWT", &l.forged),
    ] {
        secrets.push(secret(name, token));
        let signature = token.rsplit('.').next().unwrap_or_default();
        secrets.push(secret(format!("{name} (signature)"), signature));
    }
    secrets
}

/// An answer as text: status line, headers, body.
fn answer_text(answer: &Answer) -> Vec<u8> {
    let mut text = format!("HTTP {}\n", answer.status).into_bytes();
    for (name, value) in &answer.headers {
        text.extend_from_slice(format!("{name}: ").as_bytes());
        text.extend_from_slice(value.as_bytes());
        text.push(b'\n');
    }
    text.extend_from_slice(&answer.body);
    text
}

/// Every file under `dir`, by path.
fn files_under(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read a stored file");
                out.push((format!("file {}", p.display()), bytes));
            }
        }
    }
    out
}

/// Each file of a ZIP archive, by name (nothing when `bytes` is no archive).
fn unzipped(label: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return Vec::new();
    };
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("a ZIP entry");
            let name = file.name().map(|n| n.into_owned()).unwrap_or_default();
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("inflate");
            (format!("{label}: {name}"), content)
        })
        .collect()
}

/// Everything the run produced, except the one answer that showed the
/// rotated signing secret (returned apart).
async fn everything_produced(l: &Leaky) -> (Vec<(String, Vec<u8>)>, (String, Vec<u8>)) {
    let shown_at = l.shown_once.as_ref().expect("rotated").1;
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    let mut shown = None;
    for (i, (label, answer)) in l.answers.iter().enumerate() {
        let entry = (format!("response to {label}"), answer_text(answer));
        all.extend(unzipped(label, &answer.body));
        if i == shown_at {
            shown = Some(entry);
        } else {
            all.push(entry);
        }
    }
    let logs = logs().lock().expect("logs").clone();
    assert!(
        String::from_utf8_lossy(&logs).contains("\"status\":401"),
        "the log capture saw the requests"
    );
    all.push(("the logs".into(), logs));
    let (events, _) = l
        .world
        .state
        .audit
        .page(&l.tenant, 1000, None, false)
        .await
        .unwrap();
    assert!(events.len() > 20, "only {} audit events", events.len());
    all.push(("audit events".into(), serde_json::to_vec(&events).unwrap()));
    // The settings' secrets are in the store, sealed (`v1.<key id>.<ciphertext>`).
    let settings = l
        .world
        .state
        .store
        .get(&format!("TENANT#{}", l.tenant), "SETTINGS#notifications")
        .await
        .unwrap()
        .expect("settings saved");
    let sealed = settings["secrets"].to_string();
    assert_eq!(sealed.matches("\"v1.").count(), 5, "sealed: {sealed}");
    all.push(("the settings record".into(), sealed.into_bytes()));
    // The store's files byte for byte (the WAL too), and the stored packs.
    let stored = files_under(l.dir.path());
    assert!(
        stored.iter().any(|(name, _)| name.ends_with(".zip")),
        "no pack stored"
    );
    let mut pack_files = Vec::new();
    for (name, bytes) in stored {
        let inside = unzipped(&name, &bytes);
        pack_files.extend(inside.iter().map(|(n, _)| n.clone()));
        all.extend(inside);
        all.push((name, bytes));
    }
    for expected in [
        "notification_settings.json",
        "integration_acceptance_evidence.json",
        "audit_log.csv",
        "savings-proof.json",
    ] {
        assert!(
            pack_files.iter().any(|n| n.ends_with(expected)),
            "{expected} not in {pack_files:?}"
        );
    }
    (all, shown.expect("the rotating answer"))
}

#[tokio::test]
async fn no_planted_secret_reaches_a_response_log_store_or_pack() {
    logs();
    let mut l = Leaky::new().await;
    settings_calls(&mut l).await;
    test_calls(&mut l).await;
    product_calls(&mut l).await;
    every_route(&mut l).await;
    store_down_calls(&mut l).await;
    assert!(l.answers.len() > 150, "only {} requests", l.answers.len());

    let secrets = planted_secrets(&l);
    let (everything, shown) = everything_produced(&l).await;
    let rotated = secret(
        "signing secret (rotated)",
        &l.shown_once.as_ref().unwrap().0,
    );
    let mut leaks = find_leaks(&secrets, &everything);
    leaks.extend(find_leaks(&[rotated], &everything));
    leaks.extend(find_leaks(&secrets, &[shown]));
    assert!(
        leaks.is_empty(),
        "planted secrets leaked:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn the_scanner_finds_a_secret_in_every_encoding_it_checks() {
    let value = "planted+secret/token=1234567890";
    let secrets = [secret("probe", value)];
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut cases = vec![
        format!("{{\"detail\": \"bad token {value}\"}}"),
        hex::encode(value),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
    ];
    for prefix in ["", "a", "ab", "Authorization: Basic user:"] {
        cases.push(b64.encode(format!("{prefix}{value}")));
    }
    for case in cases {
        let found = find_leaks(&secrets, &[("case".into(), case.clone().into_bytes())]);
        assert!(!found.is_empty(), "missed in {case}");
    }
    let near_miss = b"planted+secret/token=123456789 (one digit short)".to_vec();
    let clean = find_leaks(&secrets, &[("clean".into(), near_miss)]);
    assert!(clean.is_empty(), "{clean:?}");
}
