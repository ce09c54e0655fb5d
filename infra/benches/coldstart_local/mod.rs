//! The cold start on the deployed shape: a release `valdrix local-stack`
//! (DynamoDB Local, the runtime secret on moto, each function with the
//! template's environment behind its own Runtime API). Each start stops the
//! function's warm environment (`DELETE /_local/functions/<id>/environment`)
//! and invokes it through Lambda's Invoke API: spawn → first `/next` is the
//! local stack's Init Duration; request → answer adds the invocation (and a
//! loopback HTTP round trip).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::Value;

pub struct LocalStack {
    child: Child,
    pub base: String,
    pub moto: String,
    pub dynamodb: String,
    pub stack: String,
    pub owner_token: String,
    pub admin_key: String,
}

impl LocalStack {
    pub fn start(bin_dir: &Path, data_dir: &Path) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let stack = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut child = Command::new(bin_dir.join("valdrix"))
            .current_dir(&root)
            .args([
                "local-stack",
                "--sandbox",
                "--port",
                "0",
                "--schedule-interval",
                "86400",
            ])
            .args(["--stack-name", &stack, "--data-dir"])
            .arg(data_dir)
            .arg("--functions-dir")
            .arg(bin_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start valdrix local-stack");
        let (mut base, mut moto, mut owner, mut key) = (None, None, None, None);
        let mut dynamodb = None;
        let mut role = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.expect("the local-stack banner");
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("valdrix local-stack: listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            } else if let Some(rest) = line.strip_prefix("# DynamoDB Local ") {
                moto = rest.rsplit(' ').next().map(str::to_owned);
                dynamodb = rest.split_whitespace().next().map(str::to_owned);
            } else if let Some(r) = line.strip_prefix("# ") {
                role = r.split_whitespace().next().unwrap_or_default().to_owned();
            } else if let Some(rest) = line.strip_prefix("curl -H 'Authorization: Bearer ") {
                if role == "owner" {
                    owner = rest.split('\'').next().map(str::to_owned);
                }
            } else if let Some(rest) = line.strip_prefix("curl -H 'X-Admin-Key: ") {
                key = rest.split('\'').next().map(str::to_owned);
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base: base.expect("the banner names the URL (see the local stack's stderr)"),
            moto: moto.expect("the banner names moto"),
            dynamodb: dynamodb.expect("the banner names DynamoDB Local"),
            stack,
            owner_token: owner.expect("an owner token"),
            admin_key: key.expect("the admin key"),
        }
    }

    /// The logical id of the function built from `binary`.
    pub async fn logical_id(&self, http: &reqwest::Client, binary: &str) -> String {
        let all: Value = http
            .get(format!("{}/_local/functions", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.as_object()
            .unwrap()
            .iter()
            .find(|(_, f)| f["binary"] == binary)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no function of the template is built from {binary}"))
    }

    /// Puts `body` in the ingest bucket and waits until cost-ingest took it.
    pub async fn put_cost_file(&self, http: &reqwest::Client, key: &str, body: String) -> String {
        let bucket = format!("{}-ingest-123456789012", self.stack);
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIABENCH",
                "bench",
                None,
                None,
                "bench",
            ))
            .endpoint_url(&self.moto)
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.into_bytes().into())
            .send()
            .await
            .expect("put the cost file");
        for _ in 0..100 {
            let s: Value = http
                .get(format!("{}/_local/event-sources", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if s["others"]["bucket-notification-0"]["invocations"].as_u64() >= Some(1) {
                return bucket;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("the cost file never reached cost-ingest");
    }

    /// The hook's cold start: its environment stopped, then a simulated
    /// deployment of `target` (a logical id), which invokes it; the
    /// CodeDeploy statuses it reported are the answer.
    pub async fn cold_start_hook(
        &self,
        http: &reqwest::Client,
        id: &str,
        target: &str,
    ) -> (f64, f64, u64, Value) {
        self.stop(http, id).await;
        let started = Instant::now();
        let body: Value = http
            .post(format!(
                "{}/_local/deployments?function={target}",
                self.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let answered_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(body[0]["status"], "Succeeded", "{id} failed: {body}");
        let (init_ms, hwm) = self.stats(http, id).await;
        (init_ms, answered_ms, hwm, body)
    }

    async fn stop(&self, http: &reqwest::Client, id: &str) {
        let stopped = http
            .delete(format!("{}/_local/functions/{id}/environment", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(stopped.status(), 204);
    }

    /// The last init (ms) and the peak RSS (KiB) of `id`'s environment.
    async fn stats(&self, http: &reqwest::Client, id: &str) -> (f64, u64) {
        let all: Value = http
            .get(format!("{}/_local/functions", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stats = &all[id]["stats"];
        let hwm = stats["pid"]
            .as_u64()
            .and_then(|pid| super::common::vm_hwm_kib(pid as u32))
            .unwrap_or(0);
        (stats["last_init_ms"].as_f64().unwrap_or(f64::NAN), hwm)
    }

    /// One cold start: (spawn → /next ms, request → answer ms, peak RSS KiB, answer).
    pub async fn cold_start(
        &self,
        http: &reqwest::Client,
        id: &str,
        event: &Value,
    ) -> (f64, f64, u64, Value) {
        self.stop(http, id).await;
        let started = Instant::now();
        let answer = http
            .post(format!(
                "{}/2015-03-31/functions/{id}/invocations",
                self.base
            ))
            .json(event)
            .send()
            .await
            .unwrap();
        let failed = answer.headers().contains_key("x-amz-function-error");
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        let answered_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(!failed, "{id} failed: {body}");
        let (init_ms, hwm) = self.stats(http, id).await;
        (init_ms, answered_ms, hwm, body)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        // SIGTERM: it stops its emulators and environments.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
