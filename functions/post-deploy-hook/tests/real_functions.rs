//! The hook's checks against the real functions: every API function's router
//! on one local server (as `valdrix serve` runs them) over the embedded
//! store, and a local Lambda endpoint that speaks Lambda's Invoke protocol and
//! runs the event functions' real handlers. Before the smoke tenant exists
//! (the stack's first create) and after `valdrix migrate` made it (every
//! deployment) every check passes; the first-create answer reaches
//! CloudFormation's URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use post_deploy_hook::cloudformation::Request;
use post_deploy_hook::{Checks, Phase, Target, Timeouts, handle_create, run_checks};
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::config::VarSet;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::policy::deadletter::StoreDeadLetters;
use valdrix_shared::policy::dispatch::Dispatcher;
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::state::SharedState;
use valdrix_shared::tenancy::{self, ChangeContext, Role, SMOKE_TENANT_ID, SMOKE_USER_ID, Tier};

const DISPATCHER: &str = "valdrix-NotificationDispatcherFunction-1";
const DAILY: &str = "valdrix-EvidenceDailyFunction-2";
const INGEST: &str = "valdrix-CostIngestFunction-3";
const WORKER: &str = "valdrix-CompliancePackWorkerFunction-4";

/// The hook's one-tenant run queues nothing.
struct NothingQueued;

#[async_trait::async_trait]
impl evidence_daily::TenantQueue for NothingQueued {
    async fn send(&self, _: &[evidence_daily::TenantWork]) -> Result<(), String> {
        Err("the hook's check of the daily run queued a tenant".into())
    }
}

/// The pack worker's hand-over, which the hook's check never reaches.
struct NothingHandedOn;

#[async_trait::async_trait]
impl valdrix_shared::exports::queue::Enqueue for NothingHandedOn {
    async fn enqueue(&self, _: &valdrix_shared::exports::queue::JobEvent) -> Result<(), String> {
        Err("the hook's check of the pack worker handed a job on".into())
    }
}

/// Every API function's routes on a local port.
async fn api(state: &SharedState) -> String {
    let routes = axum::Router::new()
        .merge(health::router(state.clone()))
        .merge(admin::router(state.clone()))
        .merge(notification_settings::router(state.clone()))
        .merge(notification_test::router(state.clone()))
        .merge(evidence::router(state.clone()))
        .merge(policy_events::router(state.clone()))
        .merge(compliance_export::router(state.clone()));
    serve(valdrix_shared::http::layers(routes, &state.config)).await
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[derive(Clone)]
struct FakeLambda {
    state: SharedState,
    /// (function, qualifier) of each invocation.
    invoked: Arc<Mutex<Vec<(String, String)>>>,
}

/// Lambda's Invoke (`POST /2015-03-31/functions/{name}/invocations`) that
/// runs the named event function's handler; a handler error is answered as
/// Lambda does (200, `X-Amz-Function-Error`).
async fn invoke(
    State(fake): State<FakeLambda>,
    Path(name): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let qualifier = query.get("Qualifier").cloned().unwrap_or_default();
    fake.invoked.lock().unwrap().push((name.clone(), qualifier));
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let state = &fake.state;
    let result: Result<Value, String> = match name.as_str() {
        DISPATCHER => {
            let trigger: notification_dispatcher::Trigger = match serde_json::from_value(payload) {
                Ok(trigger) => trigger,
                Err(e) => {
                    return (
                        [("x-amz-function-error", "Unhandled")],
                        axum::Json(json!({"errorType": "Runtime.UnmarshalError", "errorMessage": e.to_string()})),
                    )
                        .into_response();
                }
            };
            let sender = NotifySender(state.notifying());
            let dead = StoreDeadLetters(state.store.clone());
            let dispatcher = Dispatcher {
                store: state.store.as_ref(),
                audit: &state.audit,
                sender: &sender,
                dead_letters: &dead,
            };
            notification_dispatcher::handle(&dispatcher, &trigger)
                .await
                .map_err(|e| e.to_string())
        }
        DAILY => {
            let notifying = state.notifying();
            let daily = evidence_daily::Daily {
                state: &notifying,
                signer: None,
                queue: &NothingQueued,
            };
            evidence_daily::handle(&daily, &payload, Deadline::unbounded())
                .await
                .map_err(|e| e.to_string())
        }
        INGEST => {
            let trigger: cost_ingest::Trigger = match serde_json::from_value(payload) {
                Ok(event) => event,
                Err(e) => {
                    return (
                        [("x-amz-function-error", "Unhandled")],
                        axum::Json(json!({"errorType": "Runtime.UnmarshalError", "errorMessage": e.to_string()})),
                    )
                        .into_response();
                }
            };
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::Config::builder()
                    .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                    .region(aws_sdk_s3::config::Region::new("us-east-1"))
                    .build(),
            );
            // Never sent to here: a hook's check of the function is one small file.
            let queue = cost_ingest::IngestQueue {
                client: aws_sdk_sqs::Client::from_conf(
                    aws_sdk_sqs::Config::builder()
                        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                        .build(),
                ),
                url: "http://127.0.0.1:9/queue".into(),
            };
            let core = state.core();
            let ingest = cost_ingest::Ingest {
                core: &core,
                s3: &s3,
                queue: &queue,
                pace: valdrix_shared::ledger::ingest::Pace::default(),
            };
            cost_ingest::handle(
                &ingest,
                trigger,
                valdrix_shared::ledger::ingest::Budget::unbounded(),
            )
            .await
            .map_err(|e| e.to_string())
        }
        WORKER => {
            let job = match serde_json::from_value(payload["valdrix_export_job"].clone()) {
                Ok(job) => job,
                Err(e) => {
                    return (
                        [("x-amz-function-error", "Unhandled")],
                        axum::Json(json!({"errorType": "Runtime.UnmarshalError", "errorMessage": e.to_string()})),
                    )
                        .into_response();
                }
            };
            let dir = std::env::temp_dir().join(valdrix_tests::unique("hook-packs"));
            let worker = valdrix_shared::exports::queue::Worker {
                store: state.store.clone(),
                audit: state.audit.clone(),
                objects: Some(Arc::new(valdrix_shared::objects::LocalDirStore::new(
                    dir, [7u8; 32],
                ))),
                signer: Some(valdrix_tests::local_signer()),
            };
            compliance_pack_worker::run_once(&worker, &NothingHandedOn, &job, Deadline::unbounded())
                .await
                .map(|step| json!({"job_id": job.job_id, "step": format!("{step:?}")}))
                .map_err(|e| format!("{e:?}"))
        }
        other => return (StatusCode::NOT_FOUND, format!("no function {other}")).into_response(),
    };
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(message) => (
            [("x-amz-function-error", "Unhandled")],
            axum::Json(json!({"errorType": "Error", "errorMessage": message})),
        )
            .into_response(),
    }
}

async fn fake_lambda(
    state: &SharedState,
) -> (aws_sdk_lambda::Client, Arc<Mutex<Vec<(String, String)>>>) {
    let fake = FakeLambda {
        state: state.clone(),
        invoked: Arc::default(),
    };
    let invoked = fake.invoked.clone();
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(invoke),
        )
        .with_state(fake);
    let url = serve(app).await;
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(RetryConfig::disabled())
        .interceptor(valdrix_tests::iam_guard::sdk_guard())
        .build();
    (aws_sdk_lambda::Client::from_conf(config), invoked)
}

/// The deployed functions' env: the contract the state runs with, the API,
/// and the template's function map.
async fn checks(state: &SharedState) -> (Checks, Arc<Mutex<Vec<(String, String)>>>) {
    let base = api(state).await;
    let targets = json!({
        "valdrix-HealthFunction-0": "health", "valdrix-AdminFunction-0": "admin",
        "valdrix-NotificationSettingsFunction-0": "notification-settings",
        "valdrix-NotificationTestFunction-0": "notification-test",
        "valdrix-EvidenceFunction-0": "evidence", "valdrix-PolicyEventsFunction-0": "policy-events",
        "valdrix-ComplianceExportFunction-0": "compliance-export",
        DISPATCHER: "notification-dispatcher", DAILY: "evidence-daily", INGEST: "cost-ingest",
        WORKER: "compliance-pack-worker",
    });
    let vars = VarSet::from_pairs([
        ("ENVIRONMENT", "local".to_owned()),
        ("SUPABASE_JWT_SECRET", valdrix_tests::JWT_SECRET.into()),
        ("ENCRYPTION_KEY", valdrix_tests::ENCRYPTION_KEY.into()),
        ("CSRF_SECRET_KEY", valdrix_tests::CSRF_SECRET_KEY.into()),
        ("ADMIN_API_KEY", valdrix_tests::ADMIN_API_KEY.into()),
        ("KDF_SALT", valdrix_tests::KDF_SALT.into()),
        ("CORS_ORIGINS", r#"["https://app.example.com"]"#.into()),
        ("VALDRIX_SMOKE_BASE_URL", base),
        ("VALDRIX_HOOK_TARGETS", targets.to_string()),
    ]);
    let (lambda, invoked) = fake_lambda(state).await;
    let timeouts = Timeouts {
        per_check: Duration::from_secs(10),
        report_reserve: Duration::from_secs(1),
    };
    let checks = Checks::from_env(vars, reqwest::Client::new(), timeouts).with_lambda(lambda);
    (checks, invoked)
}

/// What `valdrix migrate` does for the hook: the smoke tenant and its owner.
async fn migrate_smoke_tenant(state: &SharedState) {
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    tenancy::create_tenant(
        &state.audit,
        Some(SMOKE_TENANT_ID.into()),
        "smoke",
        Tier::Enterprise,
        &ctx,
    )
    .await
    .unwrap();
    tenancy::put_member(
        state.store.as_ref(),
        &state.audit,
        SMOKE_TENANT_ID,
        SMOKE_USER_ID,
        Role::Owner,
        post_deploy_hook::SMOKE_USER_EMAIL,
        &ctx,
    )
    .await
    .unwrap();
}

/// What CloudFormation's presigned response URL received: each PUT's
/// content type and body.
type Answers = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn cloudformation_url() -> (String, Answers) {
    let answers: Answers = Arc::default();
    let seen = answers.clone();
    let put = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            let ct = headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = serde_json::from_slice(&body).unwrap();
            seen.lock().unwrap().push((ct, body));
            StatusCode::OK
        }
    };
    let cfn = axum::Router::new().route("/cfn-response", axum::routing::put(put));
    (format!("{}/cfn-response", serve(cfn).await), answers)
}

fn failures(results: &[post_deploy_hook::CheckResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: {}", r.name, r.reason.as_deref().unwrap_or("")))
        .collect()
}

#[tokio::test]
async fn every_functions_checks_pass_against_the_real_functions() {
    let state = valdrix_tests::state_with(valdrix_tests::shared_sqlite_store().await);
    migrate_smoke_tenant(&state).await;
    let (checks, invoked) = checks(&state).await;
    for target in Target::ALL {
        let results = run_checks(&checks, &[target], Phase::Deploy).await;
        assert_eq!(failures(&results), Vec::<String>::new(), "{target:?}");
        assert!(
            results.len() >= 2,
            "{target:?} has checks of its own: {results:?}"
        );
    }
    // A stack that gains the first-create checks on an update is migrated
    // already: they pass there too.
    let results = run_checks(&checks, &Target::ALL, Phase::FirstCreate).await;
    assert_eq!(failures(&results), Vec::<String>::new());
    invoked.lock().unwrap().truncate(4);
    // Each event function was invoked once, through its live alias.
    let invoked = invoked.lock().unwrap().clone();
    let mut names: Vec<_> = invoked.iter().map(|(n, q)| format!("{n}:{q}")).collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{WORKER}:live"),
            format!("{INGEST}:live"),
            format!("{DAILY}:live"),
            format!("{DISPATCHER}:live")
        ]
    );
}

#[tokio::test]
async fn a_deployment_before_migrate_fails_where_the_smoke_tenant_is_needed() {
    let state = valdrix_tests::state_with(valdrix_tests::shared_sqlite_store().await);
    let (checks, _) = checks(&state).await;
    let results = run_checks(
        &checks,
        &[Target::Admin, Target::EvidenceDaily],
        Phase::Deploy,
    )
    .await;
    let failed: Vec<&str> = results.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    assert_eq!(
        failed,
        [
            "authenticated-read",
            "admin-tenant-read",
            "evidence-daily-run"
        ],
        "{results:#?}"
    );
}

#[tokio::test]
async fn the_first_create_passes_before_migrate_and_answers_cloudformation() {
    let state = valdrix_tests::state_with(valdrix_tests::shared_sqlite_store().await);
    let (checks, _) = checks(&state).await;
    let results = run_checks(&checks, &Target::ALL, Phase::FirstCreate).await;
    assert_eq!(failures(&results), Vec::<String>::new());

    // CloudFormation's presigned URL: one PUT of the outcome, no content type.
    let (url, answers) = cloudformation_url().await;
    let request: Request = serde_json::from_value(json!({
        "RequestType": "Create", "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/valdrix/1",
        "RequestId": "req-1", "LogicalResourceId": "PostDeployChecksOnCreate",
        "ResourceType": "AWS::CloudFormation::CustomResource", "ResourceProperties": {},
    }))
    .unwrap();
    let outcome = handle_create(&request, &checks).await.unwrap();
    assert_eq!(outcome.status, "SUCCESS");
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    let (content_type, body) = &answers[0];
    assert_eq!(content_type, &None);
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["RequestId"], "req-1");
    assert_eq!(body["LogicalResourceId"], "PostDeployChecksOnCreate");
    assert_eq!(body["PhysicalResourceId"], "valdrix-post-deploy-checks");
}

#[tokio::test]
async fn a_first_create_with_a_broken_function_answers_failed() {
    let state = valdrix_tests::state_with(valdrix_tests::shared_sqlite_store().await);
    let (mut checks, _) = checks(&state).await;
    // The dispatcher's name is not in the map: its check cannot run.
    checks.targets =
        post_deploy_hook::Targets::parse(Some(r#"{"valdrix-HealthFunction-0":"health"}"#));
    checks.deadline = Some(tokio::time::Instant::now() + Duration::from_secs(5));
    let (url, answers) = cloudformation_url().await;
    let request: Request = serde_json::from_value(json!({
        "RequestType": "Create", "ResponseURL": url, "StackId": "s",
        "RequestId": "req-2", "LogicalResourceId": "PostDeployChecksOnCreate",
    }))
    .unwrap();
    let outcome = handle_create(&request, &checks).await.unwrap();
    assert_eq!(outcome.status, "FAILED");
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1, "one answer, after the retries");
    assert_eq!(answers[0].1["Status"], "FAILED");
    let reason = answers[0].1["Reason"].as_str().unwrap();
    assert!(reason.contains("dispatcher-sweep"), "{reason}");
}

#[tokio::test]
async fn a_delete_succeeds_without_checks() {
    let state = valdrix_tests::state_with(valdrix_tests::shared_sqlite_store().await);
    let (mut checks, invoked) = checks(&state).await;
    checks.base_url = None;
    let (url, answers) = cloudformation_url().await;
    let request: Request = serde_json::from_value(json!({
        "RequestType": "Delete", "ResponseURL": url, "StackId": "s",
        "RequestId": "req-3", "LogicalResourceId": "PostDeployChecksOnCreate",
        "PhysicalResourceId": "valdrix-post-deploy-checks",
    }))
    .unwrap();
    let outcome = handle_create(&request, &checks).await.unwrap();
    assert_eq!(outcome.status, "SUCCESS");
    assert!(outcome.checks.is_empty());
    assert!(invoked.lock().unwrap().is_empty());
    assert_eq!(answers.lock().unwrap()[0].1["Status"], "SUCCESS");
}
