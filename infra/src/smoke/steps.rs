//! The step runner: each checklist step timed and turned into a `StepResult`
//! (skipped ones too), and the `PASS`/`FAIL` line it prints as.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::api::Api;

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

/// Why a step failed: (HTTP status if any, detail).
pub(super) struct Failure(pub(super) Option<u16>, pub(super) String);

impl Failure {
    pub(super) fn msg(detail: impl Into<String>) -> Self {
        Self(None, detail.into())
    }
}

/// What a passing step adds to its line and the report.
#[derive(Default)]
pub(super) struct Passed {
    pub(super) status: Option<u16>,
    pub(super) note: Option<String>,
    pub(super) data: Value,
}

pub(super) async fn step<F>(name: &'static str, fut: F) -> StepResult
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
