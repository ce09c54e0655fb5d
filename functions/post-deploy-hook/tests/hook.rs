//! The hook end to end without Lambda: the handler fed from
//! `events/codedeploy-lifecycle.json`, the deployed function looked up and
//! the status reported through a fake CodeDeploy endpoint that speaks the
//! real protocol (AWS JSON 1.1 over HTTP on 127.0.0.1), and the function's
//! checks against a fake API (wiremock). tests/real_functions.rs runs the
//! same checks against the real functions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use aws_sdk_codedeploy::config::retry::RetryConfig;
use aws_sdk_codedeploy::config::{BehaviorVersion, Credentials, Region};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use post_deploy_hook::probes::{CHECK_ADMIN_TENANT, CHECK_LIVE};
use post_deploy_hook::{
    CHECK_DEPLOYED_FUNCTION, CHECK_HEALTH, CHECK_ME, CHECK_RUNTIME_CONTRACT, CheckResult, Checks,
    Timeouts, handle,
};
use serde_json::{Value, json};
use valdrix_shared::config::VarSet;
use valdrix_shared::tenancy::{SMOKE_TENANT_ID, SMOKE_USER_ID};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PUT_STATUS: &str = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus";
const GET_DEPLOYMENT: &str = "CodeDeploy_20141006.GetDeployment";
const GET_REVISION: &str = "CodeDeploy_20141006.GetApplicationRevision";
const HEALTH_FN: &str = "valdrix-HealthFunction-Ab12Cd34";
const ADMIN_FN: &str = "valdrix-AdminFunction-Ef56Gh78";

/// The template's function map, as the hook's env carries it.
fn targets_json() -> String {
    json!({HEALTH_FN: "health", ADMIN_FN: "admin"}).to_string()
}

fn fixture() -> CodeDeployLifecycleEvent {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/codedeploy-lifecycle.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("read fixture"))
        .expect("fixture is a CodeDeploy lifecycle event")
}

fn fixture_ids() -> (String, String) {
    let raw: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/codedeploy-lifecycle.json"
        ))
        .unwrap(),
    )
    .unwrap();
    (
        raw["DeploymentId"].as_str().unwrap().to_owned(),
        raw["LifecycleEventHookExecutionId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// One request the fake CodeDeploy received.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    target: Option<String>,
    content_type: Option<String>,
    signed: bool,
    body: Value,
}

#[derive(Clone)]
struct FakeCodeDeploy {
    received: Arc<Mutex<Vec<Received>>>,
    /// The function the deployment moves (its AppSpec's Name).
    deployed: String,
    /// GetDeployment fails with this.
    lookup_fails: bool,
    /// PutLifecycleEventHookExecutionStatus fails with this.
    fail_with: Option<StatusCode>,
}

/// A CodeDeploy endpoint on 127.0.0.1 that records every call: the
/// deployment's revision lives in the application (as for CloudFormation's
/// deployments), its AppSpec names `deployed`.
async fn fake_codedeploy(
    deployed: &str,
    lookup_fails: bool,
    fail_with: Option<StatusCode>,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let fake = FakeCodeDeploy {
        received: Arc::default(),
        deployed: deployed.to_owned(),
        lookup_fails,
        fail_with,
    };
    let received = fake.received.clone();
    async fn any(
        State(fake): State<FakeCodeDeploy>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        fake.received.lock().unwrap().push(Received {
            method,
            path: uri.path().to_owned(),
            target: header("x-amz-target"),
            content_type: header("content-type"),
            signed: header("authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256")),
            body: body.clone(),
        });
        let ct = [("content-type", "application/x-amz-json-1.1")];
        let revision =
            json!({"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "5e1f"}});
        match header("x-amz-target").as_deref() {
            Some(GET_DEPLOYMENT) if fake.lookup_fails => (
                StatusCode::BAD_REQUEST,
                ct,
                json!({"__type": "DeploymentDoesNotExistException", "message": "no such deployment"}).to_string(),
            ),
            Some(GET_DEPLOYMENT) => (
                StatusCode::OK,
                ct,
                json!({"deploymentInfo": {
                    "deploymentId": body["deploymentId"], "applicationName": "valdrix-app",
                    "deploymentGroupName": "valdrix-group", "revision": revision,
                }})
                .to_string(),
            ),
            Some(GET_REVISION) => {
                let appspec = json!({"version": 0.0, "Resources": [{"Fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Name": fake.deployed, "Alias": "live", "CurrentVersion": "3", "TargetVersion": "4"},
                }}]});
                let mut stored = revision.clone();
                stored["appSpecContent"]["content"] = json!(appspec.to_string());
                (
                    StatusCode::OK,
                    ct,
                    json!({"applicationName": body["applicationName"], "revision": stored}).to_string(),
                )
            }
            _ => match fake.fail_with {
                Some(status) => (
                    status,
                    ct,
                    json!({"__type": "InvalidLifecycleEventHookExecutionIdException", "message": "unknown hook execution"}).to_string(),
                ),
                None => (
                    StatusCode::OK,
                    ct,
                    json!({"lifecycleEventHookExecutionId": body["lifecycleEventHookExecutionId"]})
                        .to_string(),
                ),
            },
        }
    }
    let app = axum::Router::new().fallback(any).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn codedeploy_client(endpoint: &str) -> aws_sdk_codedeploy::Client {
    let config = aws_sdk_codedeploy::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        // Each CodeDeploy call must be in functions/post-deploy-hook/iam.txt.
        .interceptor(valdrix_tests::iam_guard::sdk_guard())
        .build();
    aws_sdk_codedeploy::Client::from_conf(config)
}

/// The deployed function's env: a valid contract and the fake API's URL.
fn env(base_url: &str, extra: &[(&str, &str)]) -> VarSet {
    let mut vars = VarSet::from_pairs([
        ("ENVIRONMENT", "local"),
        ("SUPABASE_JWT_SECRET", valdrix_tests::JWT_SECRET),
        ("ENCRYPTION_KEY", valdrix_tests::ENCRYPTION_KEY),
        ("CSRF_SECRET_KEY", valdrix_tests::CSRF_SECRET_KEY),
        ("ADMIN_API_KEY", valdrix_tests::ADMIN_API_KEY),
        ("KDF_SALT", valdrix_tests::KDF_SALT),
        ("CORS_ORIGINS", r#"["https://app.example.com"]"#),
        ("VALDRIX_SMOKE_BASE_URL", base_url),
        ("VALDRIX_HOOK_TARGETS", &targets_json()),
    ]);
    for (k, v) in extra {
        vars.set(*k, *v);
    }
    vars
}

fn checks(vars: VarSet, per_check: Duration) -> Checks {
    Checks::from_env(
        vars,
        reqwest::Client::new(),
        Timeouts {
            per_check,
            report_reserve: Duration::from_secs(1),
        },
    )
}

fn healthy() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "healthy", "checks": {}}))
}

fn smoke_me() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "user_id": SMOKE_USER_ID, "tenant_id": SMOKE_TENANT_ID, "role": "owner", "tier": "enterprise",
    }))
}

async fn api(health: ResponseTemplate, me: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(health)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/health/live"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "alive"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(me)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/admin/tenants/{SMOKE_TENANT_ID}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": SMOKE_TENANT_ID, "tier": "enterprise"})),
        )
        .mount(&server)
        .await;
    server
}

/// Run the handler on the fixture for a deployment of `deployed` and return
/// (outcome checks, status reported), asserting the deployment was looked up
/// and exactly one status was reported, with the fixture's ids.
async fn run_for(deployed: &str, checks: &Checks) -> (Vec<CheckResult>, String) {
    let (endpoint, received) = fake_codedeploy(deployed, false, None).await;
    let outcome = handle(&fixture(), checks, &codedeploy_client(&endpoint))
        .await
        .expect("reporting succeeded");
    let calls = received.lock().unwrap().clone();
    let targets: Vec<_> = calls
        .iter()
        .map(|c| c.target.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        targets,
        [GET_DEPLOYMENT, GET_REVISION, PUT_STATUS],
        "{calls:?}"
    );
    let (deployment_id, execution_id) = fixture_ids();
    assert_eq!(calls[0].body["deploymentId"], deployment_id.as_str());
    assert_eq!(calls[1].body["applicationName"], "valdrix-app");
    assert_eq!(outcome.function.as_deref(), Some(deployed));
    let call = &calls[2];
    assert_eq!(call.method, Method::POST);
    assert_eq!(call.path, "/");
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/x-amz-json-1.1")
    );
    assert!(call.signed, "the request is SigV4-signed");
    assert_eq!(call.body["deploymentId"], deployment_id.as_str());
    assert_eq!(
        call.body["lifecycleEventHookExecutionId"],
        execution_id.as_str()
    );
    let status = call.body["status"].as_str().unwrap().to_owned();
    assert_eq!(
        outcome.status, status,
        "the outcome names the status reported"
    );
    (outcome.checks, status)
}

/// A deployment of the admin function (the authenticated checks).
async fn run(checks: &Checks) -> (Vec<CheckResult>, String) {
    run_for(ADMIN_FN, checks).await
}

fn failed<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    let result = results.iter().find(|r| r.name == name).expect(name);
    assert!(!result.ok, "{name} should have failed: {results:?}");
    result
}

#[tokio::test]
async fn every_check_passing_reports_succeeded() {
    let server = api(healthy(), smoke_me()).await;
    let (results, status) = run(&checks(env(&server.uri(), &[]), Duration::from_secs(5))).await;
    assert_eq!(status, "Succeeded");
    let names: Vec<_> = results.iter().map(|r| (r.name, r.ok)).collect();
    assert_eq!(
        names,
        [
            (CHECK_DEPLOYED_FUNCTION, true),
            (CHECK_RUNTIME_CONTRACT, true),
            (CHECK_ME, true),
            (CHECK_ADMIN_TENANT, true),
        ]
    );

    // The authenticated read carried a token for the smoke user that the
    // deployed config verifies.
    let requests = server.received_requests().await.unwrap();
    let me = requests
        .iter()
        .find(|r| r.url.path() == "/api/v1/me")
        .expect("/me was called");
    let auth = me.headers.get("authorization").unwrap().to_str().unwrap();
    let claims = valdrix_shared::auth::verify_bearer(&valdrix_tests::test_config(&[]), Some(auth))
        .expect("token verifies with SUPABASE_JWT_SECRET");
    assert_eq!(claims.sub, SMOKE_USER_ID);
    // The operator read carried the deployed admin key; health was not probed.
    let tenant = requests
        .iter()
        .find(|r| r.url.path().starts_with("/api/v1/admin/tenants/"))
        .expect("the tenant read was called");
    assert_eq!(
        tenant.headers.get("x-admin-key").unwrap(),
        valdrix_tests::ADMIN_API_KEY
    );
    assert!(
        requests
            .iter()
            .all(|r| !r.url.path().starts_with("/health")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_health_deployment_runs_the_health_checks_only() {
    let server = api(healthy(), smoke_me()).await;
    let (results, status) = run_for(
        HEALTH_FN,
        &checks(env(&server.uri(), &[]), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(status, "Succeeded");
    let names: Vec<_> = results.iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            CHECK_DEPLOYED_FUNCTION,
            CHECK_RUNTIME_CONTRACT,
            CHECK_HEALTH,
            CHECK_LIVE
        ]
    );
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/health", "/health/live"]);
}

#[tokio::test]
async fn a_function_the_hook_does_not_know_fails_closed() {
    let server = api(healthy(), smoke_me()).await;
    let (results, status) = run_for(
        "valdrix-SomethingNew-Zz99",
        &checks(env(&server.uri(), &[]), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(status, "Failed");
    assert_eq!(results.len(), 1, "{results:?}");
    let reason = failed(&results, CHECK_DEPLOYED_FUNCTION)
        .reason
        .clone()
        .unwrap();
    assert!(
        reason.contains("valdrix-SomethingNew-Zz99") && reason.contains("VALDRIX_HOOK_TARGETS"),
        "{reason}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_deployment_that_cannot_be_looked_up_fails_closed_and_still_reports() {
    let server = api(healthy(), smoke_me()).await;
    let (endpoint, received) = fake_codedeploy(ADMIN_FN, true, None).await;
    let outcome = handle(
        &fixture(),
        &checks(env(&server.uri(), &[]), Duration::from_secs(5)),
        &codedeploy_client(&endpoint),
    )
    .await
    .expect("the report went out");
    assert_eq!(outcome.status, "Failed");
    let reason = failed(&outcome.checks, CHECK_DEPLOYED_FUNCTION)
        .reason
        .clone()
        .unwrap();
    assert!(reason.contains("GetDeployment"), "{reason}");
    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.last().unwrap().target.as_deref(), Some(PUT_STATUS));
    assert_eq!(calls.last().unwrap().body["status"], "Failed");
}

#[tokio::test]
async fn health_503_reports_failed() {
    let server = api(
        ResponseTemplate::new(503).set_body_json(json!({"status": "unhealthy"})),
        smoke_me(),
    )
    .await;
    let (results, status) = run_for(
        HEALTH_FN,
        &checks(env(&server.uri(), &[]), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(status, "Failed");
    let health = failed(&results, CHECK_HEALTH);
    assert!(
        health.reason.as_deref().unwrap().contains("503"),
        "{health:?}"
    );
}

#[tokio::test]
async fn health_200_but_not_healthy_reports_failed() {
    let server = api(
        ResponseTemplate::new(200).set_body_json(json!({"status": "degraded"})),
        smoke_me(),
    )
    .await;
    let (results, status) = run_for(
        HEALTH_FN,
        &checks(env(&server.uri(), &[]), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(status, "Failed");
    failed(&results, CHECK_HEALTH);
}

#[tokio::test]
async fn me_401_reports_failed() {
    let server = api(
        healthy(),
        ResponseTemplate::new(401).set_body_json(json!({"detail": "invalid token"})),
    )
    .await;
    let (results, status) = run(&checks(env(&server.uri(), &[]), Duration::from_secs(5))).await;
    assert_eq!(status, "Failed");
    assert!(
        failed(&results, CHECK_ME)
            .reason
            .as_deref()
            .unwrap()
            .contains("401")
    );
}

#[tokio::test]
async fn me_answering_another_tenant_reports_failed() {
    let server = api(
        healthy(),
        ResponseTemplate::new(200).set_body_json(json!({"tenant_id": "someone-else"})),
    )
    .await;
    let (results, status) = run(&checks(env(&server.uri(), &[]), Duration::from_secs(5))).await;
    assert_eq!(status, "Failed");
    assert!(
        failed(&results, CHECK_ME)
            .reason
            .as_deref()
            .unwrap()
            .contains("someone-else")
    );
}

#[tokio::test]
async fn a_hanging_smoke_endpoint_times_out_and_reports_failed() {
    let server = api(healthy().set_delay(Duration::from_secs(30)), smoke_me()).await;
    let started = std::time::Instant::now();
    let (results, status) = run_for(
        HEALTH_FN,
        &checks(env(&server.uri(), &[]), Duration::from_millis(300)),
    )
    .await;
    assert_eq!(status, "Failed");
    let health = failed(&results, CHECK_HEALTH);
    assert!(
        health.reason.as_deref().unwrap().contains("timed out"),
        "{health:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout cut the check short: {:?}",
        started.elapsed()
    );
    // The other checks still ran and passed: only the hung one failed.
    assert!(results.iter().filter(|r| r.ok).count() == 3, "{results:?}");
}

#[tokio::test]
async fn an_invocation_deadline_in_the_past_fails_the_smoke_checks_but_still_reports() {
    let server = api(healthy(), smoke_me()).await;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap();
    let checks =
        checks(env(&server.uri(), &[]), Duration::from_secs(5)).with_invocation_deadline(now_ms);
    let (endpoint, received) = fake_codedeploy(ADMIN_FN, false, None).await;
    let outcome = handle(&fixture(), &checks, &codedeploy_client(&endpoint))
        .await
        .expect("the report went out");
    assert_eq!(outcome.status, "Failed");
    // No time left: not even the look-up starts; it fails, and the report
    // still goes out.
    let lookup = failed(&outcome.checks, CHECK_DEPLOYED_FUNCTION);
    assert!(
        lookup.reason.as_deref().unwrap().contains("timed out"),
        "{lookup:?}"
    );
    let calls = received.lock().unwrap().clone();
    let targets: Vec<_> = calls
        .iter()
        .map(|c| c.target.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(targets, [PUT_STATUS]);
    assert_eq!(calls[0].body["status"], "Failed");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_broken_runtime_contract_reports_failed_without_leaking_values() {
    let server = api(healthy(), smoke_me()).await;
    let short_secret = "short-jwt-secret-xyz";
    let vars = env(
        &server.uri(),
        &[
            ("SUPABASE_JWT_SECRET", short_secret),
            ("KDF_SALT", "not-base64!"),
        ],
    );
    let (results, status) = run(&checks(vars, Duration::from_secs(5))).await;
    assert_eq!(status, "Failed");
    let contract = failed(&results, CHECK_RUNTIME_CONTRACT);
    let reason = contract.reason.as_deref().unwrap();
    assert!(
        reason.contains("SUPABASE_JWT_SECRET") && reason.contains("KDF_SALT"),
        "{reason}"
    );
    let logged = serde_json::to_string(&results).unwrap();
    assert!(
        !logged.contains(short_secret) && !logged.contains("not-base64!"),
        "{logged}"
    );
    // Without the contract there is no key to sign the smoke token with.
    failed(&results, CHECK_ME);
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.url.path() != "/api/v1/me")
    );
}

#[tokio::test]
async fn a_missing_base_url_reports_failed() {
    let mut vars = env("", &[]);
    vars.set("VALDRIX_SMOKE_BASE_URL", "");
    let (results, status) = run(&checks(vars, Duration::from_secs(5))).await;
    assert_eq!(status, "Failed");
    assert!(
        failed(&results, CHECK_ME)
            .reason
            .as_deref()
            .unwrap()
            .contains("VALDRIX_SMOKE_BASE_URL")
    );
}

#[tokio::test]
async fn an_unreachable_api_reports_failed() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (results, status) = run(&checks(env(&dead, &[]), Duration::from_secs(5))).await;
    assert_eq!(status, "Failed");
    failed(&results, CHECK_ME);
    failed(&results, CHECK_ADMIN_TENANT);
}

#[tokio::test]
async fn a_failed_report_is_the_handlers_error() {
    let server = api(healthy(), smoke_me()).await;
    let (endpoint, received) =
        fake_codedeploy(ADMIN_FN, false, Some(StatusCode::BAD_REQUEST)).await;
    let err = handle(
        &fixture(),
        &checks(env(&server.uri(), &[]), Duration::from_secs(5)),
        &codedeploy_client(&endpoint),
    )
    .await
    .expect_err("a report CodeDeploy refused fails the invocation");
    assert!(
        err.to_string()
            .contains("PutLifecycleEventHookExecutionStatus"),
        "{err}"
    );
    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].body["status"], "Succeeded");
}
