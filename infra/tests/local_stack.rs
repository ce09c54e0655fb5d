//! The deployed shape end to end: `valdrix local-stack --sandbox` started once
//! on the suite's DynamoDB Local and moto (`infra/emulators.sh start`), with the
//! function binaries of this build, then: `valdrix smoke` (the policy event
//! through the table's stream to the dispatcher), a cost file put in the ingest
//! bucket reaching the ledger and the pack's FOCUS export (the pack signed with
//! the template's KMS key, on moto, and verified), the evidence-daily
//! schedule, the post-deploy hook (Succeeded, and Failed once the table is
//! gone), and a cold start on a broken runtime secret reported on the Runtime
//! API's init-error route.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn emulator(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the emulators with eval \"$(infra/emulators.sh start)\" (infra/test-all does)")
    })
}

/// The function binaries beside this build's `valdrix`, rebuilt when stale.
fn functions_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_valdrix"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(root())
        .args(["build", "--locked", "--bins"]);
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        build.arg("-p").arg(entry.unwrap().file_name());
    }
    // What cargo set for this test would change build scripts' fingerprints
    // (ring's reads CARGO_PKG_*) and rebuild half the tree: not passed on.
    for (name, _) in std::env::vars() {
        let keep = name == "CARGO_HOME" || name == "CARGO_TARGET_DIR";
        if (name.starts_with("CARGO_") && !keep) || name == "OUT_DIR" {
            build.env_remove(name);
        }
    }
    let status = build.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build of the function binaries failed"
    );
    dir
}

struct Stack {
    child: Child,
    base: String,
    owner: String,
    admin_key: String,
    stack: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Stack {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("local-stack.log");
        let stack = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_valdrix"))
            .current_dir(root())
            .args([
                "local-stack",
                "--sandbox",
                "--port",
                "0",
                "--schedule-interval",
                "3",
            ])
            .args(["--stack-name", &stack, "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--functions-dir")
            .arg(functions_dir())
            .args([
                "--dynamodb-endpoint",
                &emulator("VALDRIX_TEST_DYNAMODB_ENDPOINT"),
            ])
            .args(["--moto-endpoint", &emulator("VALDRIX_TEST_MOTO_ENDPOINT")])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start valdrix local-stack");
        let (mut base, mut owner, mut admin_key) = (None, None, None);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.expect("banner");
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("valdrix local-stack: listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            } else if let Some(rest) = line.strip_prefix("export ") {
                // The checklist's variables: the demo owner's token, the admin key.
                for (name, value) in rest.split_whitespace().filter_map(|p| p.split_once('=')) {
                    match name {
                        "TOKEN" => owner = Some(value.to_owned()),
                        "ADMIN_KEY" => admin_key = Some(value.to_owned()),
                        _ => {}
                    }
                }
            } else if line == "# stop with Ctrl-C" {
                break;
            }
        }
        // Keep draining stdout so the stack never writes into a closed pipe.
        std::thread::spawn(move || for _ in lines {});
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        Self {
            base: base.unwrap_or_else(|| panic!("no banner; log:\n{}", log_text())),
            owner: owner.expect("owner token"),
            admin_key: admin_key.expect("admin key"),
            child,
            stack,
            log,
            _dir: dir,
        }
    }

    /// `what`, then the last lines of its log.
    fn fail(&self, what: &str) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!("{what}\n--- local-stack log ---\n{tail}")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(http: &reqwest::Client, url: String) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// Polls `check` every 300 ms until it gives a value or `secs` pass.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    secs: u64,
    mut check: impl FnMut() -> F,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(v) = check().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    None
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "AKIAE2ETEST",
            "e2e",
            None,
            None,
            "e2e",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_shape_runs_locally() {
    let mut stack = Stack::start();
    let http = reqwest::Client::new();
    let base = stack.base.clone();

    // 1. The checklist's smoke tests, all seven.
    let report = stack._dir.path().join("smoke.json");
    let out = Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args([
            "smoke",
            "--base-url",
            &base,
            "--token",
            &stack.owner,
            "--admin-key",
            &stack.admin_key,
            "--report",
        ])
        .arg(&report)
        .env_clear()
        .output()
        .expect("run valdrix smoke");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        stack.fail(&format!("smoke failed:\n{stdout}"))
    );
    assert!(stdout.contains("7 of 7 steps passed"), "{stdout}");
    let text = std::fs::read_to_string(&report).unwrap();
    let event_id = text
        .split("\"event_id\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no event id in the smoke report: {text}"))
        .to_owned();
    // ... delivered by the dispatcher from a stream batch, to all five receivers.
    let sources = get(&http, format!("{base}/_local/event-sources")).await;
    let stream = &sources["streams"]["NotificationDispatcherFunctionPendingDeliveries"];
    let delivered: Vec<&str> = stream["last_results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["outcomes"].as_array().into_iter().flatten())
        .filter(|o| o["event_id"] == event_id.as_str() && o["step"] == "Delivered")
        .filter_map(|o| o["channel"].as_str())
        .collect();
    assert_eq!(
        delivered.len(),
        5,
        "{}",
        stack.fail(&format!("stream deliveries of {event_id}: {sources}"))
    );
    // The receivers saw the policy event (Slack's message names the decision, not the id).
    let received = get(&http, format!("{base}/_sandbox/received")).await;
    for receiver in ["slack", "jira", "github", "gitlab", "webhook"] {
        let got = received.as_array().unwrap().iter().any(|r| {
            r["receiver"] == receiver && {
                let body = r["body"].to_string();
                body.contains(&event_id) || body.contains("Valdrix Policy BLOCK")
            }
        });
        assert!(got, "{receiver} did not receive {event_id}: {received}");
    }

    // 2. A cost file put in the ingest bucket: S3 notification → cost-ingest → ledger → FOCUS export.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(&emulator("VALDRIX_TEST_MOTO_ENDPOINT")).await)
            .force_path_style(true)
            .build(),
    );
    let resource = format!("i-e2e{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let csv = valdrix_tests::focus_csv(&[valdrix_tests::focus_line(
        "12.5",
        "2026-02-01T00:00:00Z",
        "2026-02-01T01:00:00Z",
        "Amazon EC2",
        "Compute",
        &resource,
        "",
        "final",
    )]);
    s3.put_object()
        .bucket(format!("{}-ingest-123456789012", stack.stack))
        .key("tenants/demo/focus/2026-02/e2e.csv")
        .body(csv.into_bytes().into())
        .send()
        .await
        .expect("put the cost file");
    let ingested = eventually(30, || {
        let http = http.clone();
        let url = format!("{base}/_local/event-sources");
        async move {
            let s = get(&http, url).await;
            let n = &s["others"]["bucket-notification-0"];
            (n["invocations"].as_u64() >= Some(1)).then(|| n.clone())
        }
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "{}",
            stack.fail("the cost file was never handed to cost-ingest")
        )
    });
    assert_eq!(
        ingested["errors"],
        0,
        "{}",
        stack.fail(&ingested.to_string())
    );
    let pack: Value = http
        .get(format!("{base}/api/v1/audit/compliance-pack?include_focus_export=true&focus_start_date=2026-02-01&focus_end_date=2026-02-28"))
        .bearer_auth(&stack.owner)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = pack["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", stack.fail(&format!("pack: {pack}"))));
    let zip = http.get(url).send().await.unwrap().bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a ZIP");
    let mut focus = String::new();
    archive
        .by_name("exports/focus-v1.2.csv")
        .expect("the FOCUS export")
        .read_to_string(&mut focus)
        .unwrap();
    assert!(
        focus.contains(&resource),
        "{resource} not in the FOCUS export:\n{focus}"
    );
    // Signed through KMS (moto's key from the template's AWS::KMS::Key): its proof holds.
    let proof = valdrix_shared::exports::verify_pack(std::io::Cursor::new(zip.to_vec()), None)
        .unwrap_or_else(|f| panic!("{}", stack.fail(&format!("the pack does not verify: {f}"))));
    assert!(proof.checkpoints_checked >= 1, "{proof:?}");

    // The same pack as an export job: compliance-export invokes the pack
    // worker asynchronously through the local stack's Invoke API (ADR 0013).
    let accepted = http
        .post(format!("{base}/api/v1/audit/compliance-pack/exports?include_focus_export=true&focus_start_date=2026-02-01&focus_end_date=2026-02-28"))
        .bearer_auth(&stack.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202, "{}", stack.fail("export job"));
    let location = accepted.headers()["location"].to_str().unwrap().to_owned();
    let job = eventually(60, || {
        let (http, url, token) = (
            http.clone(),
            format!("{base}{location}"),
            stack.owner.clone(),
        );
        async move {
            let job: Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            matches!(job["state"].as_str(), Some("succeeded" | "failed")).then_some(job)
        }
    })
    .await
    .unwrap_or_else(|| panic!("{}", stack.fail("the export job never ended")));
    assert_eq!(
        job["state"],
        "succeeded",
        "{}",
        stack.fail(&job.to_string())
    );
    let zip = http
        .get(job["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        job["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&zip))
    );

    // 3. The evidence-daily schedule queues one message per tenant, and the
    // queue's event source mapping runs each tenant: evidence by the system actor.
    let daily = eventually(30, || {
        let http = http.clone();
        let url = format!("{base}/_local/event-sources");
        async move {
            let s = get(&http, url).await;
            let (queued, ran) = (
                &s["others"]["EvidenceDailyFunctionDaily"],
                &s["others"]["EvidenceDailyFunctionTenants"],
            );
            (queued["errors"] == 0
                && queued["last_result"]["tenants_queued"].as_u64() >= Some(2)
                && ran["invocations"].as_u64() >= Some(1)
                && ran["errors"] == 0)
                .then(|| ran.clone())
        }
    })
    .await
    .unwrap_or_else(|| panic!("{}", stack.fail("evidence-daily never ran a tenant")));
    assert_eq!(
        daily["last_result"]["batchItemFailures"],
        json!([]),
        "{daily}"
    );
    let list: Value = http
        .get(format!(
            "{base}/api/v1/settings/notifications/acceptance-evidence"
        ))
        .bearer_auth(&stack.owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list.to_string().contains("\"system\""),
        "no evidence by the system actor: {list}"
    );

    // 4. The post-deploy hook reports Succeeded to CodeDeploy.
    let deployed = http
        .post(format!("{base}/_local/deployments?function=HealthFunction"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        deployed[0]["status"],
        "Succeeded",
        "{}",
        stack.fail(&deployed.to_string())
    );

    // 5. A cold start on a broken runtime secret fails init, reported on /runtime/init/error.
    let secrets =
        aws_sdk_secretsmanager::Client::new(&sdk(&emulator("VALDRIX_TEST_MOTO_ENDPOINT")).await);
    let listed = secrets.list_secrets().send().await.unwrap();
    let secret = listed
        .secret_list()
        .iter()
        .find(|s| {
            s.name()
                .is_some_and(|n| n.starts_with(&format!("{}/runtime-", stack.stack)))
        })
        .expect("the stack's runtime secret");
    let id = secret.arn().unwrap().to_owned();
    let good = secrets
        .get_secret_value()
        .secret_id(&id)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    secrets
        .put_secret_value()
        .secret_id(&id)
        .secret_string("not json")
        .send()
        .await
        .unwrap();
    let stop = |f: &str| {
        http.delete(format!("{base}/_local/functions/{f}/environment"))
            .send()
    };
    assert_eq!(stop("HealthFunction").await.unwrap().status(), 204);
    let event = std::fs::read_to_string(root().join("events/health-get.json")).unwrap();
    let answer = http
        .post(format!(
            "{base}/2015-03-31/functions/HealthFunction/invocations"
        ))
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer
            .headers()
            .get("x-amz-function-error")
            .map(|v| v.to_str().unwrap()),
        Some("Unhandled")
    );
    let error: Value = answer.json().await.unwrap();
    assert_eq!(
        error["errorType"],
        "Runtime.ContractViolation",
        "{}",
        stack.fail(&error.to_string())
    );
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("VALDRIX_RUNTIME_SECRET_ARN"),
        "{error}"
    );
    let functions = get(&http, format!("{base}/_local/functions")).await;
    assert_eq!(
        functions["HealthFunction"]["stats"]["last_init_error"],
        json!({"errorType": "Runtime.ContractViolation", "errorMessage": error["errorMessage"]})
    );
    assert!(
        !error.to_string().contains(&good),
        "the secret's value leaked"
    );
    // Fixed secret, next cold start serves again.
    secrets
        .put_secret_value()
        .secret_id(&id)
        .secret_string(&good)
        .send()
        .await
        .unwrap();
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "{}",
        stack.fail("health after the secret was fixed")
    );

    // 6. With the table gone, /health fails and so does the hook.
    let dynamodb =
        aws_sdk_dynamodb::Client::new(&sdk(&emulator("VALDRIX_TEST_DYNAMODB_ENDPOINT")).await);
    let tables = dynamodb.list_tables().send().await.unwrap();
    let table = tables
        .table_names()
        .iter()
        .find(|t| t.starts_with(&format!("{}-Table-", stack.stack)))
        .expect("the stack's table")
        .clone();
    dynamodb
        .update_table()
        .table_name(&table)
        .deletion_protection_enabled(false)
        .send()
        .await
        .unwrap();
    dynamodb
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let failed = eventually(30, || {
        let http = http.clone();
        let url = format!("{base}/_local/deployments?function=HealthFunction");
        async move {
            let d: Value = http.post(url).send().await.ok()?.json().await.ok()?;
            (d[0]["status"] == "Failed").then_some(d)
        }
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "{}",
            stack.fail("the hook never reported Failed with the table gone")
        )
    });
    let checks = failed[0]["invocation"]["checks"].to_string();
    assert!(
        checks.contains("\"name\":\"health\",\"ok\":false"),
        "{checks}"
    );

    // 7. SIGTERM stops it all, the functions' processes with it.
    let functions = get(&http, format!("{base}/_local/functions")).await;
    let running: Vec<u64> = functions
        .as_object()
        .unwrap()
        .values()
        .filter_map(|f| f["stats"]["pid"].as_u64())
        .collect();
    assert!(!running.is_empty(), "{functions}");
    let pid = stack.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = stack.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "local-stack did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit {status:?}");
    for pid in running {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "function process {pid} outlived the local stack"
        );
    }
}
