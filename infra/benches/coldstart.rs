//! Cold start of every function binary on the deployed shape, beside two
//! floors measured in the same run.
//!
//!     infra/bench-all coldstart     # builds each function alone, the floors, then runs this
//!
//! A release `valdrix local-stack` (DynamoDB Local, the runtime secret on
//! moto, each function with the template's environment behind its own
//! Lambda Runtime API) runs every function as Lambda does: each start stops
//! the function's environment and invokes it (`coldstart_local/`). The two
//! floors run through this harness's own Runtime API on the same emulators:
//! `hello-lambda` (answers `{}`), and `sdk-floor`, which at init loads the AWS
//! configuration, reads one secret from moto's Secrets Manager and builds a
//! DynamoDB client: the honest lower bound of a function that must read its
//! secrets and talk to DynamoDB (docs/adr/0010).
//!
//! Per start: spawn → first `/next` (the init Lambda reports as Init
//! Duration), the answer, and VmHWM of the process read from /proc just
//! before it is stopped. One untimed warm-up start per binary, then
//! `BENCH_STARTS` (default 20). The last table gives each binary's stripped
//! size, init and peak memory as multiples of the SDK floor's; in the rounds
//! every function start follows an SDK-floor start, and its paired init ratio
//! is the median of (its init / that floor start's init) over the rounds.

mod coldstart_local;
mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use common::{mib, percentile, sorted, vm_hwm_kib};

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
}

fn fixed(v: Value) -> MakeEvent {
    Box::new(move |_| v.clone())
}

/// The functions' invocations, with the owner token and admin key of the stack they run on.
fn functions(owner_token: &str, admin_key: &str) -> Vec<Function> {
    let bearer = format!("Bearer {owner_token}");
    let owner = |name: &str| event_file(name, &[("REPLACE_WITH_TOKEN", owner_token)]);
    let admin_key = admin_key.to_owned();
    vec![
        Function {
            name: "health",
            invocation: "`health-get.json`: GET /health (store ping)",
            event: fixed(event_file("health-get", &[])),
        },
        Function {
            name: "admin",
            invocation: "`me-get.json`: GET /api/v1/me, owner token",
            event: fixed(owner("me-get")),
        },
        Function {
            name: "notification-settings",
            invocation: "`notification-settings-get.json`: GET settings, owner token",
            event: fixed(owner("notification-settings-get")),
        },
        Function {
            name: "notification-test",
            invocation: "`notification-test-jira.json`: POST test-jira, owner token → sandbox Jira",
            event: fixed(owner("notification-test-jira")),
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
        },
        Function {
            name: "compliance-pack-worker",
            invocation: "`{\"valdrix_export_job\": …}` as compliance-export sends it, for a job not in the store → done after one read",
            event: fixed(json!({"valdrix_export_job": {
                "tenant_id": "demo",
                "job_id": "00000000-0000-4000-8000-000000000000",
            }})),
        },
        Function {
            name: "cost-ingest",
            invocation: "`s3-cost-ingest.json` → S3 GetObject (moto), 100-row FOCUS CSV into the demo ledger",
            event: fixed(event_file(
                "s3-cost-ingest",
                &[
                    // the stack's ingest bucket replaces it per start
                    ("REPLACE_WITH_BUCKET", "ingest-bucket"),
                    ("tenants/acme/focus/2026-01/export+part-1.csv.gz", COST_KEY),
                    // No ETag: the function asks S3 for the object's own.
                    ("0123456789abcdef0123456789abcdef", ""),
                ],
            )),
        },
        Function {
            name: "evidence-daily",
            invocation: "scheduled event: passive run over every tenant (sandbox Jira `myself`)",
            event: fixed(event_file("schedule-dispatcher-sweep", &[])),
        },
        Function {
            name: "notification-dispatcher",
            invocation: "`dynamodb-stream-delivery.json`: stream batch; its delivery is not in the store → skipped",
            event: fixed(event_file("dynamodb-stream-delivery", &[])),
        },
        Function {
            name: "post-deploy-hook",
            invocation: "a simulated deployment of the health function (`POST /_local/deployments`): AppSpec looked up, contract, the health function's checks, status reported to the fake CodeDeploy",
            event: fixed(Value::Null),
        },
    ]
}

struct Sample {
    init_ms: f64,
    hwm_kib: u64,
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
        loop {
            tokio::select! {
                seen = self.seen.recv() => match seen.expect("the runtime API is up") {
                    (at, Seen::Next) => init_ms = Some(ms(at - started)),
                    (_, Seen::Answer { kind: "init_error", body }) => {
                        panic!("{} failed its init: {body} (log: {})", f.name, log_path.display())
                    }
                    (_, Seen::Answer { .. }) => break,
                },
                status = child.wait() => panic!(
                    "{} exited ({:?}) before answering; log: {}",
                    f.name, status, log_path.display()
                ),
                _ = tokio::time::sleep_until(give_up) => panic!(
                    "{} did not answer within 60 s; log: {}", f.name, log_path.display()
                ),
            }
        }
        let hwm_kib = vm_hwm_kib(pid).unwrap_or(0);
        let _ = child.start_kill();
        let _ = child.wait().await;
        Sample {
            init_ms: init_ms.expect("the invocation was fetched before it was answered"),
            hwm_kib,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A binary's medians over its starts: (init ms, peak RSS KiB, stripped bytes).
struct Medians {
    name: String,
    init_ms: f64,
    hwm_kib: f64,
    size_bytes: u64,
    /// The median over rounds of its init over the SDK floor's init started
    /// just before it: both see the machine as it was at that moment.
    paired_init: Option<f64>,
}

#[tokio::main]
async fn main() {
    let starts: usize = common::env_or("BENCH_STARTS", 20);
    let release = common::release_dir();
    let work = common::temp_dir("bench-coldstart");
    // The deployed shape: DynamoDB Local, the runtime secret on moto, each
    // function with the template's environment behind its own Runtime API.
    let stack = coldstart_local::LocalStack::start(&release, &work.path().join("local-stack"));

    // The floors run on the same emulators, through this harness's Runtime API.
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
    let secret_id = floor_secret(&stack.moto).await;
    let floor_table = floor_table(&stack.dynamodb).await;
    let mut common_env = Vec::new();
    for (k, v) in [
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHCOLDSTART"),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret-access-key"),
        ("AWS_SESSION_TOKEN", "bench-session-token"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", stack.moto.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamodb.as_str()),
        ("BENCH_SECRET_ID", secret_id.as_str()),
        ("BENCH_TABLE", floor_table.as_str()),
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
        logs,
    };
    let floors = [
        Function {
            name: "hello-lambda",
            invocation: "`{}` → `{}` (no config, no store)",
            event: fixed(json!({})),
        },
        Function {
            name: "sdk-floor",
            invocation: "`{}` → one GetItem (DynamoDB Local) → `{}`, after an init that loads the AWS configuration, reads one secret (moto) and builds a DynamoDB client",
            event: fixed(json!({})),
        },
    ];
    let load_before = common::load_average();
    let mut floor_rows = Vec::new();
    for f in &floors {
        let bin = release.join(f.name);
        assert!(
            bin.is_file(),
            "{} is missing: build it first (cargo build --release -p {})",
            bin.display(),
            f.name
        );
        harness.start_once(f, &bin, 0).await;
        let mut samples = Vec::new();
        for round in 1..=starts {
            samples.push(harness.start_once(f, &bin, round).await);
        }
        let init = sorted(&samples.iter().map(|x| x.init_ms).collect::<Vec<_>>());
        let hwm = sorted(&samples.iter().map(|x| x.hwm_kib as f64).collect::<Vec<_>>());
        floor_rows.push(Medians {
            name: f.name.to_owned(),
            init_ms: percentile(&init, 50.0),
            hwm_kib: percentile(&hwm, 50.0),
            size_bytes: std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0),
            paired_init: None,
        });
        println!(
            "floor {}: init median {:.1} ms (p95 {:.1}), peak RSS median {:.1} MiB, stripped {:.2} MiB; {}",
            f.name,
            percentile(&init, 50.0),
            percentile(&init, 95.0),
            mib(percentile(&hwm, 50.0) as u64),
            floor_rows.last().unwrap().size_bytes as f64 / 1048576.0,
            f.invocation
        );
    }
    println!(
        "floors: {starts} starts each (after 1 warm-up), load average before {load_before}, after {}",
        common::load_average()
    );

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
    let paired_floor = (&mut harness, &floors[1], release.join(floors[1].name));
    let functions = local_stack_run(&stack, starts, &csv, &release, paired_floor).await;

    // Each function beside the SDK floor measured in this run (docs/adr/0010).
    let floor = &floor_rows[1];
    println!(
        "ratios to the SDK floor ({}: init {:.1} ms, peak RSS {:.1} MiB, stripped {:.2} MiB):",
        floor.name,
        floor.init_ms,
        floor.hwm_kib / 1024.0,
        floor.size_bytes as f64 / 1048576.0
    );
    println!(
        "| binary | stripped size | × floor | init median | × floor | init × floor, paired | peak RSS median | × floor |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for m in floor_rows.iter().chain(&functions) {
        let paired = m.paired_init.map_or("-".into(), |r| format!("{r:.2}"));
        println!(
            "| {} | {:.2} MiB | {:.2} | {:.1} ms | {:.2} | {paired} | {:.1} MiB | {:.2} |",
            m.name,
            m.size_bytes as f64 / 1048576.0,
            m.size_bytes as f64 / floor.size_bytes as f64,
            m.init_ms,
            m.init_ms / floor.init_ms,
            m.hwm_kib / 1024.0,
            m.hwm_kib / floor.hwm_kib,
        );
    }
}

/// A secret in moto the SDK floor reads at init, the size of a runtime secret.
async fn floor_secret(moto: &str) -> String {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let value: serde_json::Map<String, Value> = (0..15)
        .map(|i| (format!("VARIABLE_{i}"), json!(format!("{i:0>48}"))))
        .collect();
    let name = format!(
        "bench/sdk-floor-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    client
        .create_secret()
        .name(&name)
        .secret_string(Value::Object(value).to_string())
        .send()
        .await
        .expect("create the floor's secret on moto")
        .arn
        .unwrap_or(name)
}

/// A table for the SDK floor's reads, keyed as the template's.
async fn floor_table(dynamodb: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(dynamodb)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await;
    let name = format!(
        "bench-sdk-floor-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    aws_sdk_dynamodb::Client::new(&config)
        .create_table()
        .table_name(&name)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the floor's table in DynamoDB Local");
    name
}

/// Every function's invocation on `valdrix local-stack` (DynamoDB Local,
/// secret on moto); each one's medians. Each timed start follows a start of
/// the SDK floor (`floor`), for the paired init ratio.
async fn local_stack_run(
    stack: &coldstart_local::LocalStack,
    starts: usize,
    csv: &[String],
    bin_dir: &Path,
    floor: (&mut Harness, &Function, PathBuf),
) -> Vec<Medians> {
    let (harness, floor, floor_bin) = floor;
    let http = reqwest::Client::new();
    let bucket = stack
        .put_cost_file(&http, COST_KEY, valdrix_tests::focus_csv(csv))
        .await;
    let list = functions(&stack.owner_token, &stack.admin_key);
    let mut rows = Vec::new();
    for f in &list {
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
    let start = |f: &Function, id: &str, round: usize| {
        let (http, event) = (&http, event(f, round));
        let hook = f.name == "post-deploy-hook";
        let id = id.to_owned();
        async move {
            if hook {
                stack.cold_start_hook(http, &id, "HealthFunction").await
            } else {
                stack.cold_start(http, &id, &event).await
            }
        }
    };
    let mut first = Vec::new();
    for (f, id, _) in &rows {
        first.push(start(f, id, 0).await);
    }
    let mut floor_inits: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for round in 1..=starts {
        for ((f, id, samples), floor_init) in rows.iter_mut().zip(&mut floor_inits) {
            floor_init.push(harness.start_once(floor, &floor_bin, round).await.init_ms);
            samples.push(start(f, id, round).await);
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
    let mut medians = Vec::new();
    for (((f, _, s), first), floor_init) in rows.iter().zip(&first).zip(&floor_inits) {
        let init = sorted(&s.iter().map(|x| x.0).collect::<Vec<_>>());
        let paired = sorted(
            &s.iter()
                .zip(floor_init)
                .map(|(x, floor)| x.0 / floor)
                .collect::<Vec<_>>(),
        );
        let answered = sorted(&s.iter().map(|x| x.1).collect::<Vec<_>>());
        let hwm = sorted(&s.iter().map(|x| x.2 as f64).collect::<Vec<_>>());
        let answer = match (first.3.get("statusCode"), first.3[0].get("status")) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(status)) => format!("CodeDeploy {status}"),
            (None, None) => "response".into(),
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
        medians.push(Medians {
            name: f.name.to_owned(),
            init_ms: percentile(&init, 50.0),
            hwm_kib: percentile(&hwm, 50.0),
            size_bytes: std::fs::metadata(bin_dir.join(f.name))
                .map(|m| m.len())
                .unwrap_or(0),
            paired_init: Some(percentile(&paired, 50.0)),
        });
    }
    medians
}
