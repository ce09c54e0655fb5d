//! The post-deploy hook: CodeDeploy's PostTraffic hook of every function,
//! and the checks of the stack's first create.
//!
//! On a deployment it asks CodeDeploy which function is moving
//! (`deployment`), then runs the runtime contract against the deployed
//! configuration (a broken one is a failed check here, not an aborted init)
//! and the checks that fit that function (`target`): requests to its own
//! routes (`probes`), or its event path through its new version
//! (`invoke`). It always reports `PutLifecycleEventHookExecutionStatus`:
//! Succeeded only when every check passed, so anything else rolls back; it
//! fails closed when it cannot tell what is deployed. Each check runs under
//! a timeout (a timeout is a failure) that leaves time to report; the handler
//! fails only when reporting itself fails.
//!
//! On the first create (`cloudformation`) it runs every function's checks.

mod check;
pub mod cloudformation;
pub mod deployment;
pub mod invoke;
pub mod probes;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use aws_sdk_codedeploy::error::DisplayErrorContext;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use serde::Serialize;
use tokio::time::Instant;
use valdrix_shared::aws::Aws;
use valdrix_shared::config::{self, RuntimeConfig, VarSet};

pub use check::{CheckResult, Timeouts};
pub use probes::{CHECK_HEALTH, CHECK_ME, Phase, SMOKE_USER_EMAIL};
pub use target::{Target, Targets};

/// The API's base URL the probes call (the template sets it).
pub const SMOKE_BASE_URL_VAR: &str = "VALDRIX_SMOKE_BASE_URL";
pub const CHECK_RUNTIME_CONTRACT: &str = "runtime-contract";
pub const CHECK_DEPLOYED_FUNCTION: &str = "deployed-function";
/// First-create attempts: the new API stage may take a moment to route.
const CREATE_ATTEMPTS: u32 = 3;
const CREATE_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// What the checks need: where the API is, the variables the runtime contract
/// is loaded from (the process env in Lambda), the function map, the clients
/// and the limits.
pub struct Checks {
    pub base_url: Option<String>,
    pub env: VarSet,
    pub targets: Result<Targets, String>,
    pub http: reqwest::Client,
    /// Invokes the event functions; `None` fails their checks.
    pub lambda: Option<aws_sdk_lambda::Client>,
    pub timeouts: Timeouts,
    /// When every check must be over: the invocation's deadline less
    /// `timeouts.report_reserve`. `None`: only the per-check limit applies.
    pub deadline: Option<Instant>,
    /// The process's one AWS configuration (the runtime secret's reads).
    pub aws: Arc<Aws>,
}

impl Checks {
    /// Checks configured from `env` (which names the base URL and targets too).
    pub fn from_env(env: VarSet, http: reqwest::Client, timeouts: Timeouts) -> Self {
        Self {
            base_url: env.get(SMOKE_BASE_URL_VAR).map(str::to_owned),
            targets: Targets::parse(env.get(target::TARGETS_VAR)),
            env,
            http,
            lambda: None,
            timeouts,
            deadline: None,
            aws: Arc::default(),
        }
    }

    /// Read the runtime secret with this AWS configuration.
    pub fn with_aws(mut self, aws: Arc<Aws>) -> Self {
        self.aws = aws;
        self
    }

    pub fn with_lambda(mut self, lambda: aws_sdk_lambda::Client) -> Self {
        self.lambda = Some(lambda);
        self
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

/// The contract check, then each target's checks, in order, each logged as
/// it ends. Never fails: a check that cannot run is a failed check.
pub async fn run_checks(checks: &Checks, targets: &[Target], phase: Phase) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let (contract, config) = check::timed(
        CHECK_RUNTIME_CONTRACT,
        checks.budget(),
        runtime_contract(&checks.env, &checks.aws),
    )
    .await;
    results.push(contract);
    for &target in targets {
        match invoke::event_check(target) {
            Some(event) => results.push(run_event(checks, target, &event, phase).await),
            None => {
                for probe in probes::probes(target) {
                    results.push(run_probe(checks, config.as_deref(), &probe, phase).await);
                }
            }
        }
    }
    results
}

async fn run_probe(
    checks: &Checks,
    config: Option<&RuntimeConfig>,
    probe: &probes::Probe,
    phase: Phase,
) -> CheckResult {
    let Some(base) = checks.base_url.as_deref().map(|b| b.trim_end_matches('/')) else {
        return CheckResult::failed(probe.name, format!("{SMOKE_BASE_URL_VAR} is not set"));
    };
    let run = probes::run(&checks.http, base, config, probe, phase);
    check::timed(probe.name, checks.budget(), run).await.0
}

async fn run_event(
    checks: &Checks,
    target: Target,
    event: &invoke::EventCheck,
    phase: Phase,
) -> CheckResult {
    let function = match &checks.targets {
        Ok(targets) => targets.function_of(target),
        Err(why) => return CheckResult::failed(event.name, why.clone()),
    };
    let (Some(function), Some(lambda)) = (function, &checks.lambda) else {
        return CheckResult::failed(
            event.name,
            format!(
                "no deployed function or Lambda client for {}",
                target.as_str()
            ),
        );
    };
    let run = invoke::run(lambda, function, event, phase);
    check::timed(event.name, checks.budget(), run).await.0
}

async fn runtime_contract(env: &VarSet, aws: &Aws) -> Result<Arc<RuntimeConfig>, String> {
    let config = config::load_with(env.clone(), None, chrono::Utc::now(), aws)
        .await
        .map_err(|violations| {
            // A violation names the variable and its rule, never the value.
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            format!("{} violation(s): {}", list.len(), list.join("; "))
        })?;
    // Reported, not failed: a waiver with time left is valid, and a deploy
    // inside the warning window may be the fix (docs/deploy.md).
    valdrix_shared::waiver::watch(&config, chrono::Utc::now());
    Ok(Arc::new(config))
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
pub struct HookReport {
    /// The deployment, or the CloudFormation request.
    pub id: String,
    /// The deployed function, when known.
    pub function: Option<String>,
    pub status: String,
    pub checks: Vec<CheckResult>,
}

/// Which function a deployment moves and its target, as a check of its
/// own: an unknown function fails the deployment.
async fn deployed_target(
    checks: &Checks,
    codedeploy: &aws_sdk_codedeploy::Client,
    deployment_id: &str,
) -> (CheckResult, Option<String>, Option<Target>) {
    let mut function = None;
    let lookup = async {
        let deployed = deployment::deployed_function(codedeploy, deployment_id).await?;
        function = Some(deployed.function.clone());
        let targets = checks.targets.as_ref().map_err(Clone::clone)?;
        let target = targets.target_of(&deployed.function).ok_or_else(|| {
            format!(
                "{} is not a function the hook has checks for ({})",
                deployed.function,
                target::TARGETS_VAR
            )
        })?;
        tracing::info!(function = %deployed.function, target = target.as_str(), version = ?deployed.target_version, "deployment under check");
        Ok(target)
    };
    let (result, target) = check::timed(CHECK_DEPLOYED_FUNCTION, checks.budget(), lookup).await;
    (result, function, target)
}

/// A CodeDeploy deployment: find the function, run its checks, always
/// report. Errs only when the report fails.
pub async fn handle(
    event: &CodeDeployLifecycleEvent,
    checks: &Checks,
    codedeploy: &aws_sdk_codedeploy::Client,
) -> Result<HookReport, lambda_runtime::Error> {
    tracing::info!(deployment_id = %event.deployment_id, "post-deploy checks starting");
    let (found, function, target) = deployed_target(checks, codedeploy, &event.deployment_id).await;
    let mut results = vec![found];
    if let Some(target) = target {
        results.extend(run_checks(checks, &[target], Phase::Deploy).await);
    }
    let status = status_for(&results);
    report(codedeploy, event, status.clone()).await?;
    Ok(HookReport {
        id: event.deployment_id.clone(),
        function,
        status: status.as_str().to_owned(),
        checks: results,
    })
}

/// The stack's first create (and any update of the checks' resource): every
/// function's checks, retried while the new API settles, then the answer to
/// CloudFormation. Errs only when the answer cannot be sent.
pub async fn handle_create(
    request: &cloudformation::Request,
    checks: &Checks,
) -> Result<HookReport, lambda_runtime::Error> {
    tracing::info!(request_type = %request.request_type, "first-create checks");
    let mut results = Vec::new();
    if request.request_type != "Delete" {
        for attempt in 1..=CREATE_ATTEMPTS {
            results = run_checks(checks, &Target::ALL, Phase::FirstCreate).await;
            if status_for(&results) == LifecycleEventStatus::Succeeded
                || attempt == CREATE_ATTEMPTS
                || checks.budget() <= CREATE_RETRY_PAUSE
            {
                break;
            }
            tokio::time::sleep(CREATE_RETRY_PAUSE).await;
        }
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: {}", r.name, r.reason.as_deref().unwrap_or("")))
        .collect();
    let ok = failed.is_empty();
    let reason = match ok {
        true => format!("{} post-deploy checks passed", results.len()),
        false => format!("post-deploy checks failed: {}", failed.join("; ")),
    };
    request.respond(&checks.http, ok, &reason).await?;
    Ok(HookReport {
        id: request.request_id.clone(),
        function: None,
        status: if ok { "SUCCESS" } else { "FAILED" }.to_owned(),
        checks: results,
    })
}
