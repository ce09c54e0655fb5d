//! Cold start of every function binary, and of a hello-world floor, against a
//! local AWS Lambda Runtime API.
//!
//!     cargo build --release -p <each function> -p hello-lambda   # infra/bench-all does this
//!     cargo bench -p valdrix --bench coldstart
//!
//! A release `valdrix serve --sandbox` on a fresh data dir creates the
//! embedded SQLite store (demo tenant, smoke tenant, sandbox receivers as the
//! demo tenant's Jira/GitHub/GitLab/webhook targets) and the development
//! secrets. Each function then runs with that `dev.env`, `DATABASE_URL` on the
//! same SQLite file and the Lambda variables, so `startup::load_runtime_config`
//! and `AppState::init` run exactly as in Lambda. The harness serves the
//! Runtime API (`/runtime/invocation/next` hands out one invocation with the
//! Lambda-Runtime-* headers; `/response`, `/error`, `/runtime/init/error`
//! record the answer) and a fake AWS endpoint (S3 GetObject for cost-ingest,
//! CodeDeploy PutLifecycleEventHookExecutionStatus for the post-deploy hook).
//!
//! Per start: exec → first `/next` (the runtime's init, what Lambda reports
//! as Init Duration) and exec → the first invocation answered; VmHWM of the
//! child read from /proc just before it is killed. One untimed warm-up start
//! per binary, then `BENCH_STARTS` (default 20) rounds, functions interleaved
//! so load drift on a shared machine spreads over all of them.
//!
//! Then the same invocations on the deployed shape (`BENCH_LOCAL_STACK=0`
//! skips it): a release `valdrix local-stack` on DynamoDB Local with the
//! runtime secret on moto, each function with the template's environment, so
//! its init loads the SDK configuration, reads the secret and builds the
//! clients as in Lambda (`coldstart_local/`).

mod coldstart_local;
mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use common::{Serve, mib, percentile, round2, sorted, vm_hwm_kib};

const COST_BUCKET: &str = "valdrix-bench-costs";
const COST_KEY: &str = "tenants/demo/focus/bench.csv";

/// What the fake Runtime API saw, in order.
enum Seen {
    Next,
    Answer { kind: &'static str, body: Value },
}

struct Job {
    request_id: String,
    function: String,
    payload: Value,
}

struct Api {
    job: Mutex<Option<Job>>,
    seen: mpsc::UnboundedSender<(Instant, Seen)>,
}

type Shared = State<Arc<Api>>;

/// Hands the pending invocation out once; later polls wait until the child is killed.
async fn next(State(api): Shared) -> Response {
    let job = api.job.lock().unwrap().take();
    let Some(job) = job else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let _ = api.seen.send((Instant::now(), Seen::Next));
    let deadline = chrono::Utc::now().timestamp_millis() + 300_000;
    let arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:{}",
        job.function
    );
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        chrono::Utc::now().timestamp(),
        &job.request_id.replace('-', "")[..24],
        &job.request_id.replace('-', "")[..16]
    );
    (
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", job.request_id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", arn),
            ("lambda-runtime-trace-id", trace),
        ],
        job.payload.to_string(),
    )
        .into_response()
}

fn record(api: &Api, kind: &'static str, body: &[u8]) -> StatusCode {
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let _ = api.seen.send((Instant::now(), Seen::Answer { kind, body }));
    StatusCode::ACCEPTED
}

async fn response(State(api): Shared, UrlPath(_id): UrlPath<String>, body: Bytes) -> StatusCode {
    record(&api, "response", &body)
}

async fn error(State(api): Shared, UrlPath(_id): UrlPath<String>, body: Bytes) -> StatusCode {
    record(&api, "error", &body)
}

async fn init_error(State(api): Shared, body: Bytes) -> StatusCode {
    record(&api, "init_error", &body)
}

/// The function the hook's fake deployment moves.
const BENCH_HOOK_TARGET: &str = "valdrix-AdminFunction-bench";

/// S3 GetObject (path style: the endpoint is an IP), and CodeDeploy: the
/// deployment's look-up and the hook's status report.
async fn fake_aws(
    State(csv): State<Arc<String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The hook looks the deployment up: its AppSpec names the admin function.
    if target.ends_with("GetDeployment") {
        let revision =
            json!({"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "be9c"}});
        let info = json!({"applicationName": "valdrix-bench", "revision": revision});
        return (
            [("content-type", "application/x-amz-json-1.1")],
            json!({ "deploymentInfo": info }).to_string(),
        )
            .into_response();
    }
    if target.ends_with("GetApplicationRevision") {
        let appspec = json!({"version": 0.0, "Resources": [{"AdminFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Name": BENCH_HOOK_TARGET, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"},
        }}]});
        let revision = json!({"revisionType": "AppSpecContent",
            "appSpecContent": {"sha256": "be9c", "content": appspec.to_string()}});
        return (
            [("content-type", "application/x-amz-json-1.1")],
            json!({"applicationName": "valdrix-bench", "revision": revision}).to_string(),
        )
            .into_response();
    }
    if target.ends_with("PutLifecycleEventHookExecutionStatus") {
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        return (
            [("content-type", "application/x-amz-json-1.1")],
            json!({"lifecycleEventHookExecutionId": body["lifecycleEventHookExecutionId"]})
                .to_string(),
        )
            .into_response();
    }
    if method == Method::GET && uri.path() == format!("/{COST_BUCKET}/{COST_KEY}") {
        return ([("content-type", "text/csv")], csv.as_str().to_owned()).into_response();
    }
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/xml")],
        "<Error><Code>NoSuchKey</Code><Message>not in the bench fake</Message></Error>",
    )
        .into_response()
}

async fn listen(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

fn event_file(name: &str, replace: &[(&str, &str)]) -> Value {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An API Gateway v2 event for a route without a sample file: `me-get.json`
/// with its method, path, credential and body replaced.
fn http_event(method: &str, path: &str, header: (&str, &str), body: Option<Value>) -> Value {
    let mut e = event_file("me-get", &[]);
    let route = format!("{method} {path}");
    e["routeKey"] = route.clone().into();
    e["rawPath"] = path.into();
    e["requestContext"]["routeKey"] = route.into();
    e["requestContext"]["http"]["method"] = method.into();
    e["requestContext"]["http"]["path"] = path.into();
    let headers = e["headers"].as_object_mut().unwrap();
    headers.remove("authorization");
    headers.insert(header.0.into(), header.1.into());
    if let Some(body) = body {
        headers.insert("content-type".into(), "application/json".into());
        e["body"] = body.to_string().into();
    }
    e
}

type MakeEvent = Box<dyn Fn(usize) -> Value>;

struct Function {
    name: &'static str,
    /// What its first invocation is, for the report.
    invocation: &'static str,
    event: MakeEvent,
    env: Vec<(String, String)>,
}

fn fixed(v: Value) -> MakeEvent {
    Box::new(move |_| v.clone())
}

/// The invocations, with the tokens, key and API URL of the stack they run on.
fn functions(owner_token: &str, admin_key: &str, api: &str, aws: &str) -> Vec<Function> {
    let bearer = format!("Bearer {owner_token}");
    let owner = |name: &str| event_file(name, &[("REPLACE_WITH_TOKEN", owner_token)]);
    let admin_key = admin_key.to_owned();
    let none = Vec::new;
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    vec![
        Function {
            name: "hello-lambda",
            invocation: "`{}` → `{}` (no config, no store)",
            event: fixed(json!({})),
            env: none(),
        },
        Function {
            name: "health",
            invocation: "`health-get.json`: GET /health (store ping)",
            event: fixed(event_file("health-get", &[])),
            env: none(),
        },
        Function {
            name: "admin",
            invocation: "`me-get.json`: GET /api/v1/me, owner token",
            event: fixed(owner("me-get")),
            env: none(),
        },
        Function {
            name: "notification-settings",
            invocation: "`notification-settings-get.json`: GET settings, owner token",
            event: fixed(owner("notification-settings-get")),
            env: none(),
        },
        Function {
            name: "notification-test",
            invocation: "`notification-test-jira.json`: POST test-jira, owner token → sandbox Jira",
            event: fixed(owner("notification-test-jira")),
            env: none(),
        },
        Function {
            name: "evidence",
            invocation: "GET acceptance-evidence list, owner token",
            event: fixed(http_event(
                "GET",
                "/api/v1/settings/notifications/acceptance-evidence",
                ("authorization", &bearer),
                None,
            )),
            env: none(),
        },
        Function {
            name: "policy-events",
            invocation: "POST /api/v1/policy/events, admin key, new id (block → 5 pending deliveries)",
            event: {
                let key = admin_key.clone();
                let run = valdrix_tests::unique("cold");
                Box::new(move |i| {
                    http_event(
                        "POST",
                        "/api/v1/policy/events",
                        ("x-admin-key", &key),
                        Some(json!({
                            "event_id": format!("{run}-{i}"), "tenant_id": "demo", "decision": "block",
                            "action": "ec2.terminate", "resource_id": "i-0abc",
                            "summary": "cold-start bench", "severity": "high",
                        })),
                    )
                })
            },
            env: none(),
        },
        Function {
            name: "compliance-export",
            invocation: "`admin-put-remediation.json`: POST remediation, admin key",
            event: fixed(event_file(
                "admin-put-remediation",
                &[
                    ("REPLACE_WITH_ADMIN_API_KEY", &admin_key),
                    ("/tenants/acme/", "/tenants/demo/"),
                    ("\"tenant_id\": \"acme\"", "\"tenant_id\": \"demo\""),
                ],
            )),
            env: vec![pair("VALDRIX_PACK_BUCKET", "valdrix-bench-packs")],
        },
        Function {
            name: "cost-ingest",
            invocation: "`s3-cost-ingest.json` → fake S3 GetObject, 100-row FOCUS CSV into the demo ledger",
            // A new ETag each time: the same version twice is not read again
            // (ADR 0012), and the bench measures a file read and upserted.
            event: {
                let run = valdrix_tests::unique("etag");
                Box::new(move |i| {
                    event_file(
                        "s3-cost-ingest",
                        &[
                            ("REPLACE_WITH_BUCKET", COST_BUCKET),
                            ("tenants/acme/focus/2026-01/export+part-1.csv.gz", COST_KEY),
                            ("0123456789abcdef0123456789abcdef", &format!("{run}-{i}")),
                        ],
                    )
                })
            },
            env: vec![pair(
                "VALDRIX_INGEST_QUEUE_URL",
                &format!("http://{aws}/123456789012/valdrix-cost-ingest"),
            )],
        },
        Function {
            name: "evidence-daily",
            invocation: "scheduled event: passive run over every tenant (sandbox Jira `myself`)",
            event: fixed(event_file("schedule-dispatcher-sweep", &[])),
            env: none(),
        },
        Function {
            name: "notification-dispatcher",
            invocation: "`dynamodb-stream-delivery.json`: stream batch; its delivery is not in the store → skipped",
            event: fixed(event_file("dynamodb-stream-delivery", &[])),
            env: vec![pair(
                "VALDRIX_DEAD_LETTER_QUEUE_URL",
                &format!("http://{aws}/123456789012/valdrix-dead-letters"),
            )],
        },
        Function {
            name: "post-deploy-hook",
            invocation: "`codedeploy-lifecycle.json`: the deployment looked up in a fake CodeDeploy (the admin function), contract, the admin function's GETs on `valdrix serve`, status reported",
            event: fixed(event_file("codedeploy-lifecycle", &[])),
            env: vec![
                pair("VALDRIX_SMOKE_BASE_URL", api),
                pair(
                    "VALDRIX_HOOK_TARGETS",
                    &json!({ BENCH_HOOK_TARGET: "admin" }).to_string(),
                ),
            ],
        },
    ]
}

struct Sample {
    init_ms: f64,
    answered_ms: f64,
    hwm_kib: u64,
    answer: String,
    body: Value,
}

/// What an answer was: the HTTP status for API Gateway responses.
fn describe(kind: &str, body: &Value) -> String {
    match (kind, body.get("statusCode")) {
        ("response", Some(code)) => format!("HTTP {code}"),
        ("response", None) => "response".into(),
        (_, _) => format!("{kind}: {}", body["errorType"].as_str().unwrap_or("?")),
    }
}

struct Harness {
    api: Arc<Api>,
    seen: mpsc::UnboundedReceiver<(Instant, Seen)>,
    runtime_api: String,
    common_env: Vec<(String, String)>,
    logs: PathBuf,
}

impl Harness {
    async fn start_once(&mut self, f: &Function, bin: &Path, round: usize) -> Sample {
        while self.seen.try_recv().is_ok() {}
        *self.api.job.lock().unwrap() = Some(Job {
            request_id: uuid::Uuid::new_v4().to_string(),
            function: f.name.into(),
            payload: (f.event)(round),
        });
        let log_path = self.logs.join(format!("{}.log", f.name));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut cmd = tokio::process::Command::new(bin);
        cmd.env_clear()
            .envs(self.common_env.iter().map(|(k, v)| (k, v)))
            .envs(f.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", &self.runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", f.name)
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", f.name),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("exec {bin:?}: {e}"));
        let pid = child.id().expect("a running child has a pid");
        let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut init_ms = None;
        let (answered_ms, kind, body) = loop {
            tokio::select! {
                seen = self.seen.recv() => match seen.expect("the runtime API is up") {
                    (at, Seen::Next) => init_ms = Some(ms(at - started)),
                    (_, Seen::Answer { kind: "init_error", body }) => {
                        panic!("{} failed its init: {body} (log: {})", f.name, log_path.display())
                    }
                    (at, Seen::Answer { kind, body }) => break (ms(at - started), kind, body),
                },
                status = child.wait() => panic!(
                    "{} exited ({:?}) before answering; log: {}",
                    f.name, status, log_path.display()
                ),
                _ = tokio::time::sleep_until(give_up) => panic!(
                    "{} did not answer within 60 s; log: {}", f.name, log_path.display()
                ),
            }
        };
        let hwm_kib = vm_hwm_kib(pid).unwrap_or(0);
        let _ = child.start_kill();
        let _ = child.wait().await;
        Sample {
            init_ms: init_ms.expect("the invocation was fetched before it was answered"),
            answered_ms,
            hwm_kib,
            answer: describe(kind, &body),
            body,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let starts: usize = common::env_or("BENCH_STARTS", 20);
    let release = common::release_dir();
    let work = common::temp_dir("bench-coldstart");
    let serve = Serve::start(&work.path().join("serve"), true, &[]);

    let (tx, rx) = mpsc::unbounded_channel();
    let api = Arc::new(Api {
        job: Mutex::new(None),
        seen: tx,
    });
    let runtime_api = listen(
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone()),
    )
    .await;
    let csv: Vec<String> = (0..100)
        .map(|i| {
            valdrix_tests::focus_line(
                &format!("{}.{:04}", i % 7, i),
                "2026-02-01T00:00:00Z",
                "2026-02-01T01:00:00Z",
                "AWS Lambda",
                "Compute",
                &format!("fn-{i}"),
                r#"{"team":"core"}"#,
                "final",
            )
        })
        .collect();
    let aws = listen(
        Router::new()
            .fallback(fake_aws)
            .with_state(Arc::new(valdrix_tests::focus_csv(&csv))),
    )
    .await;

    let mut common_env: Vec<(String, String)> = serve.dev_env();
    for (k, v) in [
        ("ENVIRONMENT", "local"),
        ("DATABASE_URL", serve.database_url().as_str()),
        // The sandbox receivers are on loopback.
        ("VALDRIX_ALLOW_PRIVATE_OUTBOUND", "true"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHCOLDSTART"),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret-access-key"),
        ("AWS_SESSION_TOKEN", "bench-session-token"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", &format!("http://{aws}")),
        ("TZ", ":UTC"),
    ] {
        common_env.push((k.to_owned(), v.to_owned()));
    }
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut harness = Harness {
        api,
        seen: rx,
        runtime_api,
        common_env,
        logs: logs.clone(),
    };

    let functions = functions(&serve.owner_token, &serve.admin_key, &serve.base, &aws);
    let crates: std::collections::BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    let covered: std::collections::BTreeSet<String> = functions
        .iter()
        .skip(1)
        .map(|f| f.name.to_owned())
        .collect();
    assert_eq!(
        crates, covered,
        "every functions/* crate needs a cold-start invocation here"
    );
    let bins: Vec<PathBuf> = functions
        .iter()
        .map(|f| {
            let bin = release.join(f.name);
            assert!(
                bin.is_file(),
                "{} is missing: build it first (cargo build --release -p {})",
                bin.display(),
                f.name
            );
            bin
        })
        .collect();
    let load_before = common::load_average();
    let mut first = Vec::new();
    for (f, bin) in functions.iter().zip(&bins) {
        first.push(harness.start_once(f, bin, 0).await);
    }
    let mut samples: Vec<Vec<Sample>> = functions.iter().map(|_| Vec::new()).collect();
    for round in 1..=starts {
        for (i, (f, bin)) in functions.iter().zip(&bins).enumerate() {
            samples[i].push(harness.start_once(f, bin, round).await);
        }
    }
    let load_after = common::load_average();

    println!(
        "cold start: {starts} starts per binary (after 1 warm-up), {} CPUs, load average before {load_before}, after {load_after}",
        common::cpus()
    );
    println!("store: embedded SQLite ({})", serve.database_url());
    println!(
        "| binary | exec → /next (init) median | p95 | exec → answered median | p95 | peak RSS median | max | stripped size | first answer |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for ((f, bin), (s, first)) in functions.iter().zip(&bins).zip(samples.iter().zip(&first)) {
        let init = sorted(&s.iter().map(|x| x.init_ms).collect::<Vec<_>>());
        let answered = sorted(&s.iter().map(|x| x.answered_ms).collect::<Vec<_>>());
        let hwm = sorted(&s.iter().map(|x| x.hwm_kib as f64).collect::<Vec<_>>());
        let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
        let answers: std::collections::BTreeSet<&str> =
            s.iter().map(|x| x.answer.as_str()).collect();
        let row = json!({
            "binary": f.name,
            "invocation": f.invocation,
            "init_ms": {"median": round2(percentile(&init, 50.0)), "p95": round2(percentile(&init, 95.0))},
            "answered_ms": {"median": round2(percentile(&answered, 50.0)), "p95": round2(percentile(&answered, 95.0))},
            "peak_rss_mib": {"median": mib(percentile(&hwm, 50.0) as u64), "max": mib(*hwm.last().unwrap() as u64)},
            "size_bytes": size,
            "first_answer": first.answer,
            "first_answer_body": first.body,
            "last_answer_body": s.last().map(|x| x.body.clone()),
            "answers": answers,
        });
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} |",
            f.name,
            percentile(&init, 50.0),
            percentile(&init, 95.0),
            percentile(&answered, 50.0),
            percentile(&answered, 95.0),
            mib(percentile(&hwm, 50.0) as u64),
            mib(*hwm.last().unwrap() as u64),
            size as f64 / 1024.0 / 1024.0,
            first.answer
        );
        rows.push(row);
        // Loose sanity bound only: a start that takes seconds means a broken set-up.
        assert!(
            percentile(&answered, 50.0) < 5_000.0,
            "{} median cold start over 5 s",
            f.name
        );
    }
    println!("first invocations (and the warm-up start's answer):");
    for (f, first) in functions.iter().zip(&first) {
        // An API Gateway response carries its JSON body as a string.
        let body = match first.body.get("body").and_then(Value::as_str) {
            Some(text) => text.to_owned(),
            None => first.body.to_string(),
        };
        let short: String = body.chars().take(240).collect();
        println!(
            "  {}: {}\n    → {} {short}",
            f.name, f.invocation, first.answer
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"starts": starts, "load_before": load_before, "load_after": load_after, "functions": rows})).unwrap()
    );
    drop(serve);
    if common::env_or("BENCH_LOCAL_STACK", 1) == 1 {
        local_stack_run(starts, &csv, &release, work.path()).await;
    }
}

/// The same invocations on `valdrix local-stack` (DynamoDB Local, secret on moto).
async fn local_stack_run(starts: usize, csv: &[String], bin_dir: &Path, work: &Path) {
    let stack = coldstart_local::LocalStack::start(bin_dir, &work.join("local-stack"));
    let http = reqwest::Client::new();
    let bucket = stack
        .put_cost_file(&http, COST_KEY, valdrix_tests::focus_csv(csv))
        .await;
    let list = functions(&stack.owner_token, &stack.admin_key, &stack.base, "unused");
    let mut rows = Vec::new();
    for f in list.iter().skip(1) {
        rows.push((f, stack.logical_id(&http, f.name).await, Vec::new()));
    }
    let event = |f: &Function, round: usize| {
        let mut e = (f.event)(round);
        if f.name == "cost-ingest" {
            e["Records"][0]["s3"]["bucket"]["name"] = bucket.clone().into();
            e["Records"][0]["s3"]["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
        }
        e
    };
    let load_before = common::load_average();
    let mut first = Vec::new();
    for (f, id, _) in &rows {
        first.push(stack.cold_start(&http, id, &event(f, 0)).await);
    }
    for round in 1..=starts {
        for (f, id, samples) in rows.iter_mut() {
            samples.push(stack.cold_start(&http, id, &event(f, round)).await);
        }
    }
    println!(
        "cold start on the deployed shape: {starts} starts per function (after 1 warm-up), load average before {load_before}, after {}",
        common::load_average()
    );
    println!(
        "store: DynamoDB Local, runtime secret on moto's Secrets Manager (valdrix local-stack, template environment)"
    );
    println!(
        "| binary | spawn → /next (init) median | p95 | invoke → answered median | p95 | peak RSS median | max | first answer |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for ((f, _, s), first) in rows.iter().zip(&first) {
        let init = sorted(&s.iter().map(|x| x.0).collect::<Vec<_>>());
        let answered = sorted(&s.iter().map(|x| x.1).collect::<Vec<_>>());
        let hwm = sorted(&s.iter().map(|x| x.2 as f64).collect::<Vec<_>>());
        let answer = match first.3.get("statusCode") {
            Some(code) => format!("HTTP {code}"),
            None => "response".into(),
        };
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MiB | {:.1} MiB | {answer} |",
            f.name,
            percentile(&init, 50.0),
            percentile(&init, 95.0),
            percentile(&answered, 50.0),
            percentile(&answered, 95.0),
            mib(percentile(&hwm, 50.0) as u64),
            mib(*hwm.last().unwrap_or(&0.0) as u64),
        );
    }
}
