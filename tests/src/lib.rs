//! Helpers for the workspace's tests: emulator endpoints, fresh stores on both
//! backends, and a valid development configuration with known secrets.

use std::sync::Arc;

use valdrix_shared::config::{self, RuntimeConfig, StoreUrl, VarSet};
use valdrix_shared::state::{AppState, SharedState};
use valdrix_shared::store::{self, DynStore};

pub mod iam_guard;

/// The URL of an emulator the test command started, or a failure that says how
/// to start it. Emulator-backed tests never skip silently.
pub fn emulator_endpoint(var: &str, what: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{what} is not running: {var} is unset. Run the whole suite with `infra/test-all` \
             (it installs and starts every emulator), or start them alone with \
             `eval \"$(infra/emulators.sh start)\"` and run `cargo test` in that shell."
        ),
    }
}

pub fn dynamodb_endpoint() -> String {
    emulator_endpoint("VALDRIX_TEST_DYNAMODB_ENDPOINT", "DynamoDB Local")
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh embedded store, in memory: the same SQL as the file store, and
/// nothing left behind in the temp dir (tests open thousands of these). In a
/// function's own tests it allows only that function's IAM table
/// ([`iam_guard`]).
pub async fn sqlite_store() -> DynStore {
    iam_guard::guard(shared_sqlite_store().await)
}

/// [`sqlite_store`] without the IAM guard: a store every function uses at
/// once (the hook's checks against all the functions).
pub async fn shared_sqlite_store() -> DynStore {
    let store: DynStore =
        Arc::new(store::SqliteStore::open_in_memory().expect("open sqlite store"));
    store.ensure_table().await.expect("sqlite schema");
    store
}

/// A fresh table on DynamoDB Local.
pub async fn dynamo_store() -> DynStore {
    let url = StoreUrl::DynamoDb {
        table: unique("t"),
        endpoint: Some(dynamodb_endpoint()),
        region: Some("us-east-1".into()),
    };
    let store = store::open(&url).await.expect("open DynamoDB Local store");
    store
        .ensure_table()
        .await
        .expect("create table on DynamoDB Local");
    iam_guard::guard(store)
}

pub const JWT_SECRET: &str = "test-jwt-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c";
pub const ENCRYPTION_KEY: &str = "test-enc-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
pub const CSRF_SECRET_KEY: &str = "test-csrf-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d";
pub const ADMIN_API_KEY: &str = "test-admin-7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c";
pub const KDF_SALT: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A valid local configuration; `extra` adds or overrides variables.
pub fn test_config(extra: &[(&str, &str)]) -> RuntimeConfig {
    let mut vars = VarSet::from_pairs([
        ("ENVIRONMENT", "local"),
        ("SUPABASE_JWT_SECRET", JWT_SECRET),
        ("ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("CSRF_SECRET_KEY", CSRF_SECRET_KEY),
        ("ADMIN_API_KEY", ADMIN_API_KEY),
        ("KDF_SALT", KDF_SALT),
        ("CORS_ORIGINS", r#"["https://app.example.com"]"#),
    ]);
    for (k, v) in extra {
        vars.set(*k, *v);
    }
    config::validate(&vars, chrono::Utc::now()).expect("test config is valid")
}

/// A fresh signing key for audit checkpoints, in a temp dir (0600), as
/// `valdrix serve` keeps one in its data dir.
pub fn local_signer() -> valdrix_shared::audit::checkpoint::DynSigner {
    let path = std::env::temp_dir()
        .join(unique("valdrix-audit-key"))
        .join("audit-signing-key.p8");
    Arc::new(
        valdrix_shared::audit::checkpoint::local::LocalSigner::open_or_create(&path)
            .expect("create a local audit signing key"),
    )
}

pub fn state_with(store: DynStore) -> SharedState {
    AppState::new(Arc::new(test_config(&[])), store)
}

/// A command that starts a private DynamoDB Local on `port` (in memory), for
/// tests that must stop and restart it, e.g. the health check's 503. It uses
/// the Java and jar `infra/emulators.sh start` exported; the caller spawns it,
/// waits for the port to answer and kills it by its own child handle.
pub fn dynamodb_local_command(port: u16) -> std::process::Command {
    dynamodb_local(port, None)
}

/// `data_dir`: keep the tables in files there (they survive a kill) instead
/// of in memory.
fn dynamodb_local(port: u16, data_dir: Option<&std::path::Path>) -> std::process::Command {
    let java = emulator_endpoint("VALDRIX_TEST_JAVA", "DynamoDB Local (java)");
    let jar = emulator_endpoint("VALDRIX_TEST_DYNAMODB_JAR", "DynamoDB Local (jar)");
    let lib = emulator_endpoint("VALDRIX_TEST_DYNAMODB_LIB", "DynamoDB Local (native libs)");
    let mut cmd = std::process::Command::new(java);
    cmd.arg(format!("-Djava.library.path={lib}"))
        .arg("-jar")
        .arg(&jar);
    match data_dir {
        Some(dir) => cmd.arg("-dbPath").arg(dir),
        None => cmd.arg("-inMemory"),
    };
    cmd.args(["-sharedDb", "-disableTelemetry", "-port"])
        .arg(port.to_string());
    if let Some(dir) = std::path::Path::new(&jar).parent() {
        cmd.current_dir(dir);
    }
    cmd
}

/// A DynamoDB Local of a test's own, on its own port, that the test can stop
/// and start again (the shared emulator must never be stopped). Killed on drop.
pub struct PrivateDynamo {
    pub port: u16,
    child: Option<std::process::Child>,
    /// Where a persistent instance keeps its tables.
    data_dir: Option<std::path::PathBuf>,
}

impl PrivateDynamo {
    /// In memory: every restart starts empty.
    pub async fn start() -> Self {
        Self::launch(None).await
    }

    /// On disk: a restart finds every write the killed instance acknowledged,
    /// so a test can look at what an outage left behind.
    pub async fn start_persistent() -> Self {
        let dir = std::env::temp_dir().join(unique("valdrix-dynamodb"));
        std::fs::create_dir_all(&dir).expect("DynamoDB Local data dir");
        Self::launch(Some(dir)).await
    }

    async fn launch(data_dir: Option<std::path::PathBuf>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut me = Self {
            port,
            child: None,
            data_dir,
        };
        me.restart().await;
        me
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start (again) on the same port; an in-memory instance starts empty.
    pub async fn restart(&mut self) {
        self.stop();
        let child = dynamodb_local(self.port, self.data_dir.as_deref())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn DynamoDB Local");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "private DynamoDB Local did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

impl Drop for PrivateDynamo {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// An API Gateway v2 event from `events/`, as the request lambda_http would
/// hand the router, with its placeholders filled in.
pub fn event_request(name: &str, replacements: &[(&str, &str)]) -> lambda_http::Request {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway v2 event: {e}"))
}

/// A user token as Supabase would issue it, signed with the test config's secret.
pub fn user_token(sub: &str, email: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    sign_claims(&serde_json::json!({
        "sub": sub, "email": email, "aud": "authenticated", "role": "authenticated",
        "iat": now, "exp": now + 600,
    }))
}

/// Any claims, signed (HS256) with the test config's secret.
pub fn sign_claims(claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign test token")
}

/// Send a request through a router and return status, headers and JSON body.
pub async fn call(
    router: &axum::Router,
    request: lambda_http::Request,
) -> (u16, http::HeaderMap, serde_json::Value) {
    use tower::ServiceExt;
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        })
    };
    (status, headers, json)
}

pub const BOT_TOKEN: &str = "xoxb-test-bot-token-91827364";
pub const JIRA_TOKEN: &str = "jira-test-token-5a4b3c2d";
pub const GITHUB_TOKEN: &str = "ghp_test_github_token_8f7e6d";
pub const GITLAB_TOKEN: &str = "glptt-test-trigger-token-1a2b";
pub const BEARER_TOKEN: &str = "bearer-test-token-3c4d5e6f";

/// A tenant whose every integration points at one local fake receiver
/// (wiremock), reached through the non-production loopback allowance.
pub struct FakeWorld {
    pub state: SharedState,
    pub server: wiremock::MockServer,
    pub tenant: String,
    /// The webhook signing secret the settings generated.
    pub signing_secret: String,
}

pub const GITHUB_DISPATCH_PATH: &str = "/repos/acme/infra/actions/workflows/valdrix.yml/dispatches";
pub const GITLAB_TRIGGER_PATH: &str = "/api/v4/projects/42/trigger/pipeline";
pub const WEBHOOK_PATH: &str = "/hooks/valdrix";

impl FakeWorld {
    pub async fn new(store: DynStore, total_timeout: std::time::Duration) -> Self {
        Self::with_vars(store, total_timeout, &[]).await
    }

    /// Like [`FakeWorld::new`], with `extra` runtime variables added or
    /// overriding the test configuration's.
    pub async fn with_vars(
        store: DynStore,
        total_timeout: std::time::Duration,
        extra: &[(&str, &str)],
    ) -> Self {
        use valdrix_shared::notify::Integrations;
        use valdrix_shared::outbound::{Timeouts, vendor::Endpoints};
        let mut vars = vec![
            ("VALDRIX_ALLOW_PRIVATE_OUTBOUND", "true"),
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ];
        vars.extend_from_slice(extra);
        let config = Arc::new(test_config(&vars));
        let server = wiremock::MockServer::start().await;
        let base = url::Url::parse(&server.uri()).expect("mock server URL");
        let endpoints = Endpoints {
            slack_api: base.join("/api/").expect("url"),
            github_api: base.clone(),
        };
        let timeouts = Timeouts {
            connect: std::time::Duration::from_secs(2),
            total: total_timeout,
        };
        let integrations = Integrations::with(&config, endpoints, timeouts);
        let state = AppState::with_integrations(config, store, integrations);
        let tenant = unique("acme");
        let ctx = valdrix_shared::tenancy::ChangeContext {
            actor: valdrix_shared::audit::Actor::System,
            request_id: None,
        };
        valdrix_shared::tenancy::create_tenant(
            &state.audit,
            Some(tenant.clone()),
            "Acme",
            valdrix_shared::tenancy::Tier::Pro,
            &ctx,
        )
        .await
        .expect("tenant");
        for role in [
            valdrix_shared::tenancy::Role::Owner,
            valdrix_shared::tenancy::Role::Member,
        ] {
            valdrix_shared::tenancy::put_member(
                state.store.as_ref(),
                &state.audit,
                &tenant,
                &format!("{tenant}-{}", role.as_str()),
                role,
                "u@acme.example",
                &ctx,
            )
            .await
            .expect("member");
        }
        let uri = server.uri();
        let update = serde_json::json!({
            "slack_channel_override": "#alerts",
            "jira_enabled": true, "jira_base_url": uri, "jira_email": "ops@acme.example", "jira_project_key": "OPS", "jira_api_token": JIRA_TOKEN,
            "workflow_github_enabled": true, "workflow_github_owner": "acme", "workflow_github_repo": "infra", "workflow_github_workflow_id": "valdrix.yml", "workflow_github_token": GITHUB_TOKEN,
            "workflow_gitlab_enabled": true, "workflow_gitlab_base_url": uri, "workflow_gitlab_project_id": "42", "workflow_gitlab_trigger_token": GITLAB_TOKEN,
            "workflow_webhook_enabled": true, "workflow_webhook_url": format!("{uri}{WEBHOOK_PATH}"), "workflow_webhook_bearer_token": BEARER_TOKEN,
        });
        let update: valdrix_shared::settings::SettingsUpdate =
            serde_json::from_value(update).expect("update");
        let policy = valdrix_shared::outbound::Policy::from_config(&state.config);
        let applied = valdrix_shared::settings::apply(
            &Default::default(),
            update,
            valdrix_shared::tenancy::Tier::Pro,
            &tenant,
            &state.keys,
            policy,
        )
        .expect("settings accepted");
        valdrix_shared::settings::save(&state.audit, &tenant, &applied, 0, &ctx)
            .await
            .expect("settings saved");
        let signing_secret = applied
            .new_signing_secret
            .map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned())
            .expect("signing secret");
        Self {
            state,
            server,
            tenant,
            signing_secret,
        }
    }

    pub fn token(&self, role: &str) -> String {
        user_token(&format!("{}-{role}", self.tenant), "u@acme.example")
    }

    /// Every planted secret, for leak scans.
    pub fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = [
            BOT_TOKEN,
            JIRA_TOKEN,
            GITHUB_TOKEN,
            GITLAB_TOKEN,
            BEARER_TOKEN,
            JWT_SECRET,
            ENCRYPTION_KEY,
            ADMIN_API_KEY,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.push(self.signing_secret.clone());
        all
    }

    /// Every receiver answers success.
    pub async fn all_succeed(&self) {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, ResponseTemplate};
        let ok = |p: &str, status: u16, body: serde_json::Value| {
            Mock::given(method("POST"))
                .and(path(p.to_owned()))
                .respond_with(ResponseTemplate::new(status).set_body_json(body))
        };
        ok(
            "/api/chat.postMessage",
            200,
            serde_json::json!({"ok": true, "channel": "C1", "ts": "1.2"}),
        )
        .mount(&self.server)
        .await;
        ok(
            "/rest/api/3/issue",
            201,
            serde_json::json!({"id": "10001", "key": "OPS-1"}),
        )
        .mount(&self.server)
        .await;
        ok(GITHUB_DISPATCH_PATH, 204, serde_json::json!({}))
            .mount(&self.server)
            .await;
        ok(GITLAB_TRIGGER_PATH, 201, serde_json::json!({"id": 7}))
            .mount(&self.server)
            .await;
        ok(WEBHOOK_PATH, 200, serde_json::json!({}))
            .mount(&self.server)
            .await;
    }

    /// How many requests a receiver path got.
    pub async fn received(&self, p: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == p)
            .count()
    }
}

mod focus_fixture;
pub mod serve;
pub use focus_fixture::{FOCUS_FIXTURE_HEADER, focus_csv, focus_line};

pub fn moto_endpoint() -> String {
    emulator_endpoint("VALDRIX_TEST_MOTO_ENDPOINT", "moto (S3)")
}

/// (method, path template) of every operation in docs/openapi.yaml, so a
/// test that walks every route picks up a new one by itself.
pub fn openapi_routes() -> Vec<(String, String)> {
    let file = format!("{}/../docs/openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}"));
    let mut routes = Vec::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("  /") {
            current = Some(format!("/{}", p.trim_end_matches(':')));
        } else if let (Some(path), Some(m)) = (&current, line.strip_prefix("    ")) {
            let m = m.trim_end_matches(':');
            if ["get", "put", "post", "delete", "patch"].contains(&m) {
                routes.push((m.to_uppercase(), path.clone()));
            }
        } else if !line.starts_with(' ') {
            current = None;
        }
    }
    assert!(routes.len() >= 20, "openapi parse found only {routes:?}");
    routes
}
