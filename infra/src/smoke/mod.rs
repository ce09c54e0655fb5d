//! `valdrix smoke`: the production checklist's section 6 as one command,
//! against a deployed stack or `valdrix serve`. One `PASS`/`FAIL` line per
//! step, a JSON report with `--report`, exit 1 when any step failed (2 when
//! the command itself could not run). Tokens and keys are never printed.

mod api;
mod pack_check;
mod steps;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use steps::{Options, StepResult, line, run_steps};

pub const COMPLIANCE_PACK_PATH: &str = "/api/v1/audit/compliance-pack?include_focus_export=true&include_savings_proof=true&include_realized_savings=true&include_close_package=true";

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

#[cfg(test)]
mod tests;
