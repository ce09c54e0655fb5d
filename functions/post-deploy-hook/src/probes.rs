//! The checks of an API function: requests to its own routes through the
//! API, as the smoke user (a 5-minute token the hook mints with the deployed
//! JWT secret) or the operator (the deployed admin key). Every probe reads
//! or is refused; none changes data beyond an audit record.
//!
//! On the stack's first create `valdrix migrate` has not run yet, so the
//! smoke user has no tenant: its probes may then be refused with 403
//! "tenant onboarding required" instead, which still proves the new version
//! started, is routed, verifies the token and reads the store. (A stack that
//! gains the first-create resource on an update is already migrated: there
//! the usual answers pass.)

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use valdrix_shared::auth::{ONBOARDING_REQUIRED, mint_user_token};
use valdrix_shared::config::RuntimeConfig;
use valdrix_shared::tenancy::{SMOKE_TENANT_ID, SMOKE_USER_ID};

use crate::target::Target;

/// The smoke user's email, as `valdrix migrate` records it.
pub const SMOKE_USER_EMAIL: &str = "smoke@valdrix.invalid";
pub const CHECK_HEALTH: &str = "health";
pub const CHECK_LIVE: &str = "health-live";
pub const CHECK_ME: &str = "authenticated-read";
pub const CHECK_ADMIN_TENANT: &str = "admin-tenant-read";
pub const CHECK_SETTINGS: &str = "settings-read";
pub const CHECK_TEST_RUN: &str = "test-notification-run";
pub const CHECK_EVIDENCE_LIST: &str = "evidence-list";
pub const CHECK_EVIDENCE_VERIFY: &str = "evidence-verify";
pub const CHECK_POLICY_READ: &str = "policy-event-read";
pub const CHECK_PACK_REQUEST: &str = "compliance-pack-request";

/// An event id no one uses: its read must be the function's own 404.
pub const PROBE_EVENT_ID: &str = "valdrix-hook-probe";

/// Which rollout the checks belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A CodeDeploy deployment of a running stack.
    Deploy,
    /// The stack's first create, before `valdrix migrate`.
    FirstCreate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    SmokeUser,
    AdminKey,
}

type Verify = fn(u16, Option<&Value>) -> Result<(), String>;

pub struct Probe {
    pub name: &'static str,
    pub method: Method,
    pub path: String,
    pub auth: Auth,
    verify: Verify,
}

impl Probe {
    fn new(name: &'static str, method: Method, path: &str, auth: Auth, verify: Verify) -> Self {
        Self {
            name,
            method,
            path: path.to_owned(),
            auth,
            verify,
        }
    }
}

/// The probes of `target` (none for the event functions).
pub fn probes(target: Target) -> Vec<Probe> {
    use Auth::{AdminKey, None as Public, SmokeUser};
    const SETTINGS: &str = "/api/v1/settings/notifications";
    match target {
        Target::Health => vec![
            Probe::new(CHECK_HEALTH, Method::GET, "/health", Public, healthy),
            Probe::new(CHECK_LIVE, Method::GET, "/health/live", Public, alive),
        ],
        Target::Admin => vec![
            Probe::new(CHECK_ME, Method::GET, "/api/v1/me", SmokeUser, smoke_member),
            Probe::new(
                CHECK_ADMIN_TENANT,
                Method::GET,
                &format!("/api/v1/admin/tenants/{SMOKE_TENANT_ID}"),
                AdminKey,
                smoke_tenant,
            ),
        ],
        Target::NotificationSettings => {
            vec![Probe::new(
                CHECK_SETTINGS,
                Method::GET,
                SETTINGS,
                SmokeUser,
                json_object,
            )]
        }
        Target::NotificationTest => vec![Probe::new(
            CHECK_TEST_RUN,
            Method::POST,
            &format!("{SETTINGS}/test-slack"),
            SmokeUser,
            test_run_recorded,
        )],
        Target::Evidence => vec![
            Probe::new(
                CHECK_EVIDENCE_LIST,
                Method::GET,
                &format!("{SETTINGS}/acceptance-evidence"),
                SmokeUser,
                json_object,
            ),
            Probe::new(
                CHECK_EVIDENCE_VERIFY,
                Method::GET,
                &format!("{SETTINGS}/acceptance-evidence/verify"),
                SmokeUser,
                json_object,
            ),
        ],
        Target::PolicyEvents => vec![Probe::new(
            CHECK_POLICY_READ,
            Method::GET,
            &format!("/api/v1/policy/events/{PROBE_EVENT_ID}"),
            SmokeUser,
            functions_own_404,
        )],
        // A request the function refuses after auth, before building anything.
        Target::ComplianceExport => vec![Probe::new(
            CHECK_PACK_REQUEST,
            Method::GET,
            "/api/v1/audit/compliance-pack?start_date=not-a-date",
            SmokeUser,
            start_date_refused,
        )],
        Target::EvidenceDaily
        | Target::NotificationDispatcher
        | Target::CostIngest
        | Target::CompliancePackWorker => vec![],
    }
}

fn http_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        format!(
            "request failed: {}",
            e.to_string().chars().take(200).collect::<String>()
        )
    }
}

/// Send `probe` and verify the answer. `config` is the deployed contract
/// (`None` when it failed: no key to sign with).
pub async fn run(
    http: &reqwest::Client,
    base: &str,
    config: Option<&RuntimeConfig>,
    probe: &Probe,
    phase: Phase,
) -> Result<(), String> {
    let mut request = http.request(probe.method.clone(), format!("{base}{}", probe.path));
    match (probe.auth, config) {
        (Auth::None, _) => {}
        (_, None) => return Err("not run: the runtime contract failed (no JWT secret)".into()),
        (Auth::SmokeUser, Some(config)) => {
            let token = mint_user_token(
                config,
                SMOKE_USER_ID,
                SMOKE_USER_EMAIL,
                chrono::Duration::minutes(5),
            );
            request = request.bearer_auth(token);
        }
        (Auth::AdminKey, Some(config)) => {
            let Some(key) = &config.admin_api_key else {
                return Err("not run: ADMIN_API_KEY is not set".into());
            };
            request = request.header("x-admin-key", key.expose_secret());
        }
    }
    let response = request.send().await.map_err(|e| http_error(&e))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| http_error(&e))?;
    let body: Option<Value> = serde_json::from_slice(&body).ok();
    let body = body.as_ref();
    let verdict = match ((probe.verify)(status, body), phase, probe.auth) {
        (Err(why), Phase::FirstCreate, Auth::SmokeUser) => onboarding_required(status, body)
            .map_err(|before| format!("{why}; before migrate: {before}")),
        (Err(why), Phase::FirstCreate, Auth::AdminKey) => functions_own_404(status, body)
            .map_err(|before| format!("{why}; before migrate: {before}")),
        (verdict, _, _) => verdict,
    };
    verdict.map_err(|why| {
        format!(
            "{} {}: {why}",
            probe.method,
            probe.path.split('?').next().unwrap_or("")
        )
    })
}

fn text<'a>(body: Option<&'a Value>, key: &str) -> &'a str {
    body.and_then(|b| b.get(key))
        .and_then(Value::as_str)
        .unwrap_or("<none>")
}

fn expect_status(status: u16, expected: u16) -> Result<(), String> {
    match status == expected {
        true => Ok(()),
        false => Err(format!("answered {status}, expected {expected}")),
    }
}

fn healthy(status: u16, body: Option<&Value>) -> Result<(), String> {
    let reported = text(body, "status");
    if status != 200 {
        return Err(format!("answered {status} (status {reported})"));
    }
    match reported {
        "healthy" => Ok(()),
        other => Err(format!("status is {other}, not healthy")),
    }
}

fn alive(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 200)?;
    match text(body, "status") {
        "alive" => Ok(()),
        other => Err(format!("status is {other}, not alive")),
    }
}

fn smoke_member(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 200)?;
    match text(body, "tenant_id") {
        SMOKE_TENANT_ID => Ok(()),
        other => Err(format!("tenant_id is {other}, expected {SMOKE_TENANT_ID}")),
    }
}

fn smoke_tenant(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 200)?;
    match text(body, "id") {
        SMOKE_TENANT_ID => Ok(()),
        other => Err(format!("id is {other}, expected {SMOKE_TENANT_ID}")),
    }
}

fn json_object(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 200)?;
    match body {
        Some(Value::Object(_)) => Ok(()),
        _ => Err("the answer is not a JSON object".into()),
    }
}

/// A run is recorded whatever its outcome: 400 when the smoke tenant has no
/// Slack configured (the usual case), 200 when it has.
fn test_run_recorded(status: u16, body: Option<&Value>) -> Result<(), String> {
    if !matches!(status, 200 | 400) {
        return Err(format!("answered {status}, expected 200 or 400"));
    }
    match body.and_then(|b| b.get("run_id")).and_then(Value::as_str) {
        Some(_) => Ok(()),
        None => Err(format!("answered {status} without a run_id")),
    }
}

/// A 404 problem from the function, not the gateway's bare `Not Found`.
fn functions_own_404(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 404)?;
    match body.and_then(|b| b.get("status")).and_then(Value::as_u64) {
        Some(404) => Ok(()),
        _ => Err("a 404 that is not the function's problem answer (is the route wired?)".into()),
    }
}

fn start_date_refused(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 422)?;
    let field = body
        .and_then(|b| b.pointer("/errors/0/field"))
        .and_then(Value::as_str);
    match field {
        Some("start_date") => Ok(()),
        other => Err(format!("refused {other:?}, expected start_date")),
    }
}

fn onboarding_required(status: u16, body: Option<&Value>) -> Result<(), String> {
    expect_status(status, 403)?;
    match text(body, "detail") {
        ONBOARDING_REQUIRED => Ok(()),
        other => Err(format!(
            "refused with {other:?}, expected {ONBOARDING_REQUIRED:?}"
        )),
    }
}
