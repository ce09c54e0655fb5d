//! The post-deploy hook: CodeDeploy's PostTraffic hook of every API function.
//!
//! It runs the runtime contract against the deployed configuration (a broken
//! one is a failed check here, not an aborted init), smoke-checks the new
//! version through the API (`GET /health` healthy; `GET /api/v1/me` as the
//! synthetic smoke user answers the smoke tenant), then always reports
//! `PutLifecycleEventHookExecutionStatus`: Succeeded only when every check
//! passed, so a bad rollout is rolled back. Each check runs under a timeout
//! (a timeout is a failure) that leaves time to report; the handler fails only
//! when reporting itself fails.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use aws_sdk_codedeploy::error::DisplayErrorContext;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use valdrix_shared::auth::mint_user_token;
use valdrix_shared::config::{self, RuntimeConfig, VarSet};
use valdrix_shared::tenancy::{SMOKE_TENANT_ID, SMOKE_USER_ID};

/// The API's base URL the smoke checks call (the template sets it).
pub const SMOKE_BASE_URL_VAR: &str = "VALDRIX_SMOKE_BASE_URL";
/// The smoke user's email, as `valdrix migrate` records it.
pub const SMOKE_USER_EMAIL: &str = "smoke@valdrix.invalid";

pub const CHECK_RUNTIME_CONTRACT: &str = "runtime-contract";
pub const CHECK_HEALTH: &str = "health";
pub const CHECK_ME: &str = "authenticated-read";

/// How long checks may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The longest one check may take; past it the check fails.
    pub per_check: Duration,
    /// Kept back from the invocation's deadline for the status report.
    pub report_reserve: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            per_check: Duration::from_secs(20),
            report_reserve: Duration::from_secs(30),
        }
    }
}

/// What the checks need: where the API is, the variables the runtime contract
/// is loaded from (the process env in Lambda), an HTTP client and the limits.
pub struct Checks {
    pub base_url: Option<String>,
    pub env: VarSet,
    pub http: reqwest::Client,
    pub timeouts: Timeouts,
    /// When every check must be over: the invocation's deadline less
    /// `timeouts.report_reserve`. `None`: only the per-check limit applies.
    pub deadline: Option<Instant>,
}

impl Checks {
    /// Checks configured from `env` (which names the base URL too).
    pub fn from_env(env: VarSet, http: reqwest::Client, timeouts: Timeouts) -> Self {
        Self {
            base_url: env.get(SMOKE_BASE_URL_VAR).map(str::to_owned),
            env,
            http,
            timeouts,
            deadline: None,
        }
    }

    /// Set the deadline from the Lambda invocation's (epoch milliseconds).
    pub fn with_invocation_deadline(mut self, deadline_epoch_ms: u64) -> Self {
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let left = Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms));
        self.deadline = Some(Instant::now() + left.saturating_sub(self.timeouts.report_reserve));
        self
    }

    /// The time the next check may take.
    fn budget(&self) -> Duration {
        match self.deadline {
            Some(deadline) => self
                .timeouts
                .per_check
                .min(deadline.saturating_duration_since(Instant::now())),
            None => self.timeouts.per_check,
        }
    }
}

/// One check's outcome; `reason` says why it failed (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckResult {
    fn failed(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            ok: false,
            latency_ms: 0,
            reason: Some(reason.into()),
        }
    }

    /// Log this result as one structured (JSON) line.
    pub fn log(&self) {
        let reason = self.reason.as_deref().unwrap_or("");
        if self.ok {
            tracing::info!(
                check = self.name,
                ok = true,
                latency_ms = self.latency_ms,
                reason,
                "post-deploy check"
            );
        } else {
            tracing::error!(
                check = self.name,
                ok = false,
                latency_ms = self.latency_ms,
                reason,
                "post-deploy check"
            );
        }
    }
}

/// Run `fut` as check `name` under `limit`; a timeout is a failure.
async fn timed<T>(
    name: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, String>>,
) -> (CheckResult, Option<T>) {
    let started = Instant::now();
    // No time left: don't start it (a zero timeout still races the timer's
    // 1 ms tick, and a fast loopback answer could win).
    let outcome = match limit.is_zero() {
        true => Err(()),
        false => tokio::time::timeout(limit, fut).await.map_err(|_| ()),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (ok, reason, value) = match outcome {
        Ok(Ok(value)) => (true, None, Some(value)),
        Ok(Err(reason)) => (false, Some(reason), None),
        Err(()) => (
            false,
            Some(format!("timed out after {} ms", limit.as_millis())),
            None,
        ),
    };
    let result = CheckResult {
        name,
        ok,
        latency_ms,
        reason,
    };
    result.log();
    (result, value)
}

/// Every check, in order, each logged as it ends. Never fails: a check that
/// cannot run is a failed check.
pub async fn run_checks(checks: &Checks) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(3);

    let (contract, config) = timed(
        CHECK_RUNTIME_CONTRACT,
        checks.budget(),
        runtime_contract(&checks.env),
    )
    .await;
    results.push(contract);

    let Some(base) = checks.base_url.as_deref().map(|b| b.trim_end_matches('/')) else {
        for name in [CHECK_HEALTH, CHECK_ME] {
            let result = CheckResult::failed(name, format!("{SMOKE_BASE_URL_VAR} is not set"));
            result.log();
            results.push(result);
        }
        return results;
    };

    let (health, _) = timed(CHECK_HEALTH, checks.budget(), health(&checks.http, base)).await;
    results.push(health);

    let me = match config {
        Some(config) => {
            timed(CHECK_ME, checks.budget(), me(&checks.http, base, &config))
                .await
                .0
        }
        None => {
            let result = CheckResult::failed(
                CHECK_ME,
                "not run: the runtime contract failed (no JWT secret)",
            );
            result.log();
            result
        }
    };
    results.push(me);
    results
}

async fn runtime_contract(env: &VarSet) -> Result<Arc<RuntimeConfig>, String> {
    config::load(env.clone(), None, chrono::Utc::now())
        .await
        .map(Arc::new)
        .map_err(|violations| {
            // A violation names the variable and its rule, never the value.
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            format!("{} violation(s): {}", list.len(), list.join("; "))
        })
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

async fn get_json(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, Option<Value>), String> {
    let response = request.send().await.map_err(|e| http_error(&e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| http_error(&e))?;
    Ok((status, serde_json::from_slice(&body).ok()))
}

async fn health(http: &reqwest::Client, base: &str) -> Result<(), String> {
    let (status, body) = get_json(http.get(format!("{base}/health"))).await?;
    let reported = body
        .as_ref()
        .and_then(|b| b.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("<none>")
        .to_owned();
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "GET /health answered {} (status {reported})",
            status.as_u16()
        ));
    }
    if reported != "healthy" {
        return Err(format!("GET /health status is {reported}, not healthy"));
    }
    Ok(())
}

async fn me(http: &reqwest::Client, base: &str, config: &RuntimeConfig) -> Result<(), String> {
    let token = mint_user_token(
        config,
        SMOKE_USER_ID,
        SMOKE_USER_EMAIL,
        chrono::Duration::minutes(5),
    );
    let (status, body) = get_json(http.get(format!("{base}/api/v1/me")).bearer_auth(token)).await?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("GET /api/v1/me answered {}", status.as_u16()));
    }
    let tenant = body
        .as_ref()
        .and_then(|b| b.get("tenant_id"))
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    if tenant != SMOKE_TENANT_ID {
        return Err(format!(
            "GET /api/v1/me tenant_id is {tenant}, expected {SMOKE_TENANT_ID}"
        ));
    }
    Ok(())
}

/// Succeeded only when there were checks and every one passed.
pub fn status_for(results: &[CheckResult]) -> LifecycleEventStatus {
    if !results.is_empty() && results.iter().all(|r| r.ok) {
        LifecycleEventStatus::Succeeded
    } else {
        LifecycleEventStatus::Failed
    }
}

/// Tell CodeDeploy how this hook execution ended.
pub async fn report(
    client: &aws_sdk_codedeploy::Client,
    event: &CodeDeployLifecycleEvent,
    status: LifecycleEventStatus,
) -> Result<(), lambda_runtime::Error> {
    client
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&event.deployment_id)
        .lifecycle_event_hook_execution_id(&event.lifecycle_event_hook_execution_id)
        .status(status.clone())
        .send()
        .await
        .map_err(|e| {
            let detail = DisplayErrorContext(&e).to_string();
            tracing::error!(deployment_id = %event.deployment_id, status = status.as_str(), error = %detail, "reporting the hook status failed");
            format!("PutLifecycleEventHookExecutionStatus failed: {detail}")
        })?;
    tracing::info!(deployment_id = %event.deployment_id, status = status.as_str(), "hook status reported");
    Ok(())
}

/// What one invocation did (the handler's response, for the logs).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub deployment_id: String,
    pub status: String,
    pub checks: Vec<CheckResult>,
}

/// The whole hook: run every check, then always report. Errs only when the
/// report fails.
pub async fn handle(
    event: &CodeDeployLifecycleEvent,
    checks: &Checks,
    codedeploy: &aws_sdk_codedeploy::Client,
) -> Result<Outcome, lambda_runtime::Error> {
    tracing::info!(deployment_id = %event.deployment_id, "post-deploy checks starting");
    let results = run_checks(checks).await;
    let status = status_for(&results);
    report(codedeploy, event, status.clone()).await?;
    Ok(Outcome {
        deployment_id: event.deployment_id.clone(),
        status: status.as_str().to_owned(),
        checks: results,
    })
}
