//! `valdrix smoke`: the production checklist's section 6 as one command,
//! against a deployed stack or `valdrix serve`. One `PASS`/`FAIL` line per
//! step, a JSON report with `--report`, exit 1 when any step failed (2 when
//! the command itself could not run). Tokens and keys are never printed.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use valdrix_shared::exports::proof::{SUMS_PATH, SUMS_SIG_PATH};

pub const COMPLIANCE_PACK_PATH: &str = "/api/v1/audit/compliance-pack?include_focus_export=true&include_savings_proof=true&include_realized_savings=true&include_close_package=true";
const NOTIFICATIONS: &str = "/api/v1/settings/notifications";

#[derive(clap::Args)]
pub struct Args {
    /// The API's base URL, e.g. https://abc.execute-api.us-east-1.amazonaws.com or http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", required_unless_present = "stack_outputs")]
    base_url: Option<String>,
    /// The stack's outputs (`aws cloudformation describe-stacks --query
    /// "Stacks[0].Outputs"`): the base URL is its ApiUrl.
    #[arg(long, value_name = "FILE", conflicts_with = "base_url")]
    stack_outputs: Option<PathBuf>,
    /// A user JWT (an owner of a Pro+ tenant) for the authenticated steps.
    #[arg(long, value_name = "JWT")]
    token: Option<String>,
    /// The operator's X-Admin-Key, for the policy event.
    #[arg(long, value_name = "KEY")]
    admin_key: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// How long to wait for the policy event's deliveries, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    delivery_timeout: u64,
}

pub async fn run(args: Args) -> ExitCode {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("valdrix-smoke/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            eprintln!("valdrix smoke: cannot build the HTTP client: {e}");
            return ExitCode::from(2);
        }
    };
    let base_url = match (args.base_url, &args.stack_outputs) {
        (Some(url), _) => url,
        (None, Some(path)) => {
            match crate::stack_outputs::get(path, crate::stack_outputs::API_URL) {
                Ok(url) => url,
                Err(e) => {
                    eprintln!("valdrix smoke: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        (None, None) => unreachable!("clap requires one of them"),
    };
    let options = Options {
        base_url: base_url.trim_end_matches('/').to_owned(),
        token: args.token,
        admin_key: args.admin_key,
        delivery_timeout: Duration::from_secs(args.delivery_timeout),
        poll_interval: Duration::from_millis(500),
    };
    let steps = run_steps(&options, &http, |step| println!("{}", line(step))).await;
    let passed = steps.iter().all(|s| s.ok);
    println!(
        "{} of {} steps passed",
        steps.iter().filter(|s| s.ok).count(),
        steps.len()
    );
    if let Some(path) = args.report {
        let report = report_json(&options.base_url, &steps);
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text + "\n") {
            eprintln!("valdrix smoke: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub struct Options {
    pub base_url: String,
    pub token: Option<String>,
    pub admin_key: Option<String>,
    pub delivery_timeout: Duration,
    pub poll_interval: Duration,
}

/// One step's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepResult {
    pub name: &'static str,
    pub ok: bool,
    pub latency_ms: u64,
    /// The HTTP status that decided the step, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed, or a short note on what passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Step-specific facts (run id, pack size, deliveries), for the report.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

/// `PASS health 12ms` / `FAIL test-jira 502: <detail>`.
pub fn line(step: &StepResult) -> String {
    let detail = step.detail.as_deref().unwrap_or("");
    if step.ok {
        let mut out = format!("PASS {} {}ms", step.name, step.latency_ms);
        if !detail.is_empty() {
            out.push_str(&format!(" ({detail})"));
        }
        out
    } else {
        match step.status {
            Some(status) => format!("FAIL {} {status}: {detail}", step.name),
            None => format!("FAIL {}: {detail}", step.name),
        }
    }
}

pub fn report_json(base_url: &str, steps: &[StepResult]) -> Value {
    json!({
        "base_url": base_url,
        "finished_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "passed": !steps.is_empty() && steps.iter().all(|s| s.ok),
        "passed_steps": steps.iter().filter(|s| s.ok).count(),
        "failed_steps": steps.iter().filter(|s| !s.ok).count(),
        "steps": steps,
    })
}

/// Why a step failed: (HTTP status if any, detail).
struct Failure(Option<u16>, String);

impl Failure {
    fn msg(detail: impl Into<String>) -> Self {
        Self(None, detail.into())
    }
}

/// What a passing step adds to its line and the report.
#[derive(Default)]
struct Passed {
    status: Option<u16>,
    note: Option<String>,
    data: Value,
}

async fn step<F>(name: &'static str, fut: F) -> StepResult
where
    F: std::future::Future<Output = Result<Passed, Failure>>,
{
    let started = Instant::now();
    let outcome = fut.await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(p) => StepResult {
            name,
            ok: true,
            latency_ms,
            status: p.status,
            detail: p.note,
            data: p.data,
        },
        Err(Failure(status, detail)) => StepResult {
            name,
            ok: false,
            latency_ms,
            status,
            detail: Some(detail),
            data: Value::Null,
        },
    }
}

fn skipped(name: &'static str, why: &str) -> StepResult {
    StepResult {
        name,
        ok: false,
        detail: Some(format!("not run: {why}")),
        ..StepResult::default()
    }
}

/// Every step, in the checklist's order; `on_step` sees each as it ends.
pub async fn run_steps(
    options: &Options,
    http: &reqwest::Client,
    mut on_step: impl FnMut(&StepResult),
) -> Vec<StepResult> {
    let mut steps = Vec::new();
    let mut push = |s: StepResult, steps: &mut Vec<StepResult>| {
        on_step(&s);
        steps.push(s);
    };
    let api = Api {
        base: &options.base_url,
        http,
        token: options.token.as_deref(),
        admin_key: options.admin_key.as_deref(),
    };

    push(step("health", api.health()).await, &mut steps);

    if options.token.is_none() {
        for name in [
            "test-jira",
            "test-workflow",
            "evidence-capture",
            "evidence-list",
            "compliance-pack",
            "policy-event",
        ] {
            push(skipped(name, "needs --token"), &mut steps);
        }
        return steps;
    }

    push(
        step("test-jira", api.test_call("test-jira")).await,
        &mut steps,
    );
    push(
        step("test-workflow", api.test_call("test-workflow")).await,
        &mut steps,
    );

    let capture = step("evidence-capture", api.capture()).await;
    let run_id = capture.data["run_id"].as_str().map(str::to_owned);
    push(capture, &mut steps);
    match run_id {
        Some(run_id) => push(
            step("evidence-list", api.evidence_list(&run_id)).await,
            &mut steps,
        ),
        None => push(
            skipped("evidence-list", "the capture gave no run_id"),
            &mut steps,
        ),
    }

    push(
        step("compliance-pack", api.compliance_pack()).await,
        &mut steps,
    );

    if options.admin_key.is_none() {
        push(skipped("policy-event", "needs --admin-key"), &mut steps);
    } else {
        push(
            step(
                "policy-event",
                api.policy_event(options.delivery_timeout, options.poll_interval),
            )
            .await,
            &mut steps,
        );
    }
    steps
}

struct Api<'a> {
    base: &'a str,
    http: &'a reqwest::Client,
    token: Option<&'a str>,
    admin_key: Option<&'a str>,
}

/// A response body as JSON (or its text as a JSON string), with its status.
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Value), Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::msg(http_error(&e)))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure(Some(status), http_error(&e)))?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, body))
}

fn http_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // Signed download URLs carry credentials in their query: never print them.
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{kind}: {text}")
}

/// The API's error detail (its `detail` field, else the body), kept short.
fn detail_of(body: &Value) -> String {
    let text = match body.get("detail").or_else(|| body.get("message")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => match body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    };
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_owned()
    }
}

fn expect_status(status: u16, want: &[u16], body: &Value) -> Result<(), Failure> {
    if want.contains(&status) {
        Ok(())
    } else {
        Err(Failure(Some(status), detail_of(body)))
    }
}

/// Every string value of `key` anywhere in `value`.
pub fn find_strings<'v>(value: &'v Value, key: &str, out: &mut Vec<&'v str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(s) = v.as_str()
                {
                    out.push(s);
                }
                find_strings(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| find_strings(v, key, out)),
        _ => {}
    }
}

/// The first array under `key` anywhere in `value`.
fn find_array<'v>(value: &'v Value, key: &str) -> Option<&'v Vec<Value>> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_array)
            .or_else(|| map.values().find_map(|v| find_array(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_array(v, key)),
        _ => None,
    }
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn user(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn admin(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.admin_key {
            Some(key) => request.header(valdrix_shared::auth::ADMIN_KEY_HEADER.as_str(), key),
            None => request,
        }
    }

    async fn health(&self) -> Result<Passed, Failure> {
        let (status, body) = send(self.http.get(self.url("/health"))).await?;
        expect_status(status, &[200], &body)?;
        match body["status"].as_str() {
            Some("healthy") => Ok(Passed {
                status: Some(status),
                ..Passed::default()
            }),
            other => Err(Failure(
                Some(status),
                format!("status is {}, not healthy", other.unwrap_or("missing")),
            )),
        }
    }

    async fn test_call(&self, which: &str) -> Result<Passed, Failure> {
        let url = self.url(&format!("{NOTIFICATIONS}/{which}"));
        let (status, body) = send(self.user(self.http.post(url))).await?;
        expect_status(status, &[200], &body)?;
        if body["status"] != "success" {
            return Err(Failure(
                Some(status),
                format!("status is {}, not success", body["status"]),
            ));
        }
        Ok(Passed {
            status: Some(status),
            note: body["run_id"].as_str().map(|r| format!("run {r}")),
            data: json!({"run_id": body["run_id"], "targets": body["targets"]}),
        })
    }

    async fn capture(&self) -> Result<Passed, Failure> {
        let url = self.url(&format!("{NOTIFICATIONS}/acceptance-evidence/capture"));
        let (status, body) = send(self.user(self.http.post(url))).await?;
        expect_status(status, &[200, 201], &body)?;
        let Some(run_id) = body["run_id"].as_str() else {
            return Err(Failure(Some(status), "the answer has no run_id".into()));
        };
        let overall = body["overall_status"].as_str().unwrap_or("missing");
        if overall != "success" {
            return Err(Failure(
                Some(status),
                format!(
                    "run {run_id}: overall_status is {overall} (passed {}, failed {})",
                    body["passed"], body["failed"]
                ),
            ));
        }
        Ok(Passed {
            status: Some(status),
            note: Some(format!("run {run_id}")),
            data: json!({"run_id": run_id, "overall_status": overall}),
        })
    }

    async fn evidence_list(&self, run_id: &str) -> Result<Passed, Failure> {
        let url = self.url(&format!("{NOTIFICATIONS}/acceptance-evidence"));
        let request = self.user(self.http.get(url).query(&[("run_id", run_id)]));
        let (status, body) = send(request).await?;
        expect_status(status, &[200], &body)?;
        let mut run_ids = Vec::new();
        find_strings(&body, "run_id", &mut run_ids);
        let found = run_ids.iter().filter(|r| **r == run_id).count();
        if found == 0 {
            return Err(Failure(
                Some(status),
                format!("run {run_id} is not in the list"),
            ));
        }
        Ok(Passed {
            status: Some(status),
            note: Some(format!("{found} item(s) of run {run_id}")),
            data: json!({"run_id": run_id, "items": found}),
        })
    }

    /// Poll an export job (`202`'s body names it) until it has ended: its
    /// `succeeded` state carries the pack's url, sha256 and bytes.
    async fn finished_job(&self, accepted: &Value) -> Result<Value, Failure> {
        let id = accepted["id"]
            .as_str()
            .ok_or_else(|| Failure(Some(202), "the 202 names no export job".into()))?;
        let path = format!("/api/v1/audit/compliance-pack/exports/{id}");
        // Three invocations of 15 minutes at most.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(46 * 60);
        loop {
            let (status, job) = send(self.user(self.http.get(self.url(&path)))).await?;
            expect_status(status, &[200], &job)?;
            match job["state"].as_str() {
                Some("succeeded") => return Ok(job),
                Some("failed") => return Err(Failure(Some(status), detail_of(&job["problem"]))),
                _ if std::time::Instant::now() > give_up => {
                    return Err(Failure(
                        Some(status),
                        format!("export job {id} did not end"),
                    ));
                }
                _ => tokio::time::sleep(std::time::Duration::from_secs(2)).await,
            }
        }
    }

    async fn compliance_pack(&self) -> Result<Passed, Failure> {
        let request = self
            .user(self.http.get(self.url(COMPLIANCE_PACK_PATH)))
            .header(reqwest::header::ACCEPT, "application/json");
        let (status, body) = send(request).await?;
        expect_status(status, &[200, 202], &body)?;
        // 202: too big for the API's budget, handed to an export job.
        let body = match status {
            202 => self.finished_job(&body).await?,
            _ => body,
        };
        let (Some(url), Some(sha256), Some(bytes)) = (
            body["url"].as_str(),
            body["sha256"].as_str(),
            body["bytes"].as_u64(),
        ) else {
            return Err(Failure(
                Some(status),
                "the answer lacks url, sha256 or bytes".into(),
            ));
        };
        // A relative URL is the API's own (valdrix serve); an absolute one is a
        // signed object-store URL, fetched without our credentials.
        let download = if url.starts_with('/') {
            self.user(self.http.get(self.url(url)))
        } else {
            self.http.get(url)
        };
        let response = download
            .send()
            .await
            .map_err(|e| Failure::msg(format!("download: {}", http_error(&e))))?;
        let dl_status = response.status().as_u16();
        if dl_status != 200 {
            return Err(Failure(
                Some(dl_status),
                "download of the pack failed".into(),
            ));
        }
        let zip = response
            .bytes()
            .await
            .map_err(|e| Failure::msg(format!("download: {}", http_error(&e))))?;
        let summary = verify_pack(&zip, sha256, bytes).map_err(|e| Failure(Some(status), e))?;
        // Its proof too: the chain, the signed checkpoints, SHA256SUMS.sig.
        let proof = valdrix_shared::exports::verify_pack(Cursor::new(&zip[..]), None)
            .map_err(|e| Failure(Some(status), e.to_string()))?;
        Ok(Passed {
            status: Some(status),
            note: Some(format!(
                "{} bytes, {} files verified, events {}..{} chained and signed",
                bytes,
                summary.files.len(),
                proof.from_seq,
                proof.to_seq
            )),
            data: json!({"bytes": bytes, "sha256": sha256, "files": summary.files}),
        })
    }

    async fn policy_event(&self, wait: Duration, poll: Duration) -> Result<Passed, Failure> {
        let (status, me) = send(self.user(self.http.get(self.url("/api/v1/me")))).await?;
        expect_status(status, &[200], &me)
            .map_err(|Failure(s, d)| Failure(s, format!("GET /api/v1/me: {d}")))?;
        let Some(tenant_id) = me["tenant_id"].as_str() else {
            return Err(Failure(
                Some(status),
                "GET /api/v1/me has no tenant_id".into(),
            ));
        };
        let event_id = format!("smoke-{}", uuid::Uuid::new_v4());
        let event = json!({
            "event_id": event_id,
            "tenant_id": tenant_id,
            "decision": "block",
            "action": "smoke.test",
            "resource_id": "smoke-resource",
            "summary": "valdrix smoke test",
        });
        let request = self.admin(
            self.http
                .post(self.url("/api/v1/policy/events"))
                .json(&event),
        );
        let (status, body) = send(request).await?;
        expect_status(status, &[202], &body)?;

        let deadline = Instant::now() + wait;
        let path = format!("/api/v1/policy/events/{event_id}");
        loop {
            let (status, body) = send(self.admin(self.http.get(self.url(&path)))).await?;
            expect_status(status, &[200], &body)?;
            let deliveries = delivery_states(&body);
            let summary = deliveries
                .iter()
                .map(|(id, s)| format!("{id}={s}"))
                .collect::<Vec<_>>()
                .join(", ");
            let data = json!({
                "event_id": event_id,
                "deliveries": deliveries.iter().map(|(id, s)| json!({"delivery": id, "status": s})).collect::<Vec<_>>(),
            });
            if deliveries.is_empty() {
                return Err(Failure(
                    Some(status),
                    format!("event {event_id} has no deliveries (no channel enabled?)"),
                ));
            }
            if deliveries.iter().all(|(_, s)| s == "delivered") {
                return Ok(Passed {
                    status: Some(202),
                    note: Some(format!("event {event_id}: {summary}")),
                    data,
                });
            }
            if deliveries.iter().any(|(_, s)| s == "dead") || Instant::now() >= deadline {
                let why = if Instant::now() >= deadline {
                    format!("not all delivered after {}s", wait.as_secs())
                } else {
                    "a delivery is dead".to_owned()
                };
                return Err(Failure(
                    Some(status),
                    format!("event {event_id}: {why}: {summary}"),
                ));
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Each delivery's name (channel/target, else id) and status.
pub fn delivery_states(body: &Value) -> Vec<(String, String)> {
    find_array(body, "deliveries")
        .map(|items| {
            items
                .iter()
                .map(|d| {
                    let name = match (d["channel"].as_str(), d["target"].as_str()) {
                        (Some(c), Some(t)) => format!("{c}:{t}"),
                        (Some(c), None) => c.to_owned(),
                        _ => d["delivery_id"].as_str().unwrap_or("?").to_owned(),
                    };
                    (name, d["status"].as_str().unwrap_or("missing").to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a verified pack held.
#[derive(Debug, PartialEq, Eq)]
pub struct PackSummary {
    /// The manifest's files, all present with their size and hash.
    pub files: Vec<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Check a compliance pack ZIP against the API's `sha256`/`bytes`, then every
/// `manifest.json` file entry against the ZIP's member of that path (the
/// proof, `valdrix verify-pack`'s checks, is [`verify_proof`]).
pub fn verify_pack(zip: &[u8], sha256: &str, bytes: u64) -> Result<PackSummary, String> {
    if zip.len() as u64 != bytes {
        return Err(format!(
            "the pack is {} bytes, the API said {bytes}",
            zip.len()
        ));
    }
    let actual = sha256_hex(zip);
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(format!(
            "the pack's sha256 is {actual}, the API said {sha256}"
        ));
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a ZIP: {e}"))?;
    let read = |archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str| {
        let mut file = archive
            .by_name(name)
            .map_err(|_| format!("{name} is missing from the pack"))?;
        let mut out = Vec::new();
        file.read_to_end(&mut out)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        Ok::<_, String>(out)
    };
    let manifest: Value = serde_json::from_slice(&read(&mut archive, "manifest.json")?)
        .map_err(|e| format!("manifest.json is not JSON: {e}"))?;
    let entries = manifest["files"]
        .as_array()
        .ok_or("manifest.json has no files list")?;
    if entries.is_empty() {
        return Err("manifest.json lists no files".into());
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for entry in entries {
        let (Some(path), Some(want_sha), Some(want_bytes)) = (
            entry["path"].as_str(),
            entry["sha256"].as_str(),
            entry["bytes"].as_u64(),
        ) else {
            problems.push(format!(
                "manifest entry {entry} lacks path, sha256 or bytes"
            ));
            continue;
        };
        if !seen.insert(path.to_owned()) {
            problems.push(format!("{path} is listed twice"));
            continue;
        }
        match read(&mut archive, path) {
            Err(e) => problems.push(e),
            Ok(content) => {
                if content.len() as u64 != want_bytes {
                    problems.push(format!(
                        "{path}: {} bytes, manifest says {want_bytes}",
                        content.len()
                    ));
                }
                let got = sha256_hex(&content);
                if !got.eq_ignore_ascii_case(want_sha) {
                    problems.push(format!("{path}: sha256 {got}, manifest says {want_sha}"));
                }
            }
        }
    }
    // Every other member must be listed: an unlisted file is unverified.
    for name in archive.file_names().filter_map(Result::ok) {
        let name: &str = &name;
        let signed_after = [SUMS_PATH, SUMS_SIG_PATH].contains(&name);
        if name != "manifest.json" && !signed_after && !name.ends_with('/') && !seen.contains(name)
        {
            problems.push(format!("{name} is in the pack but not in manifest.json"));
        }
    }
    if problems.is_empty() {
        Ok(PackSummary {
            files: seen.into_iter().collect(),
        })
    } else {
        problems.sort();
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests;
