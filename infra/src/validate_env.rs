//! `valdrix validate-runtime-env`: the runtime contract as a pre-rollout check.
//! Exit 0 passed, 1 violations, 2 usage error. No value is ever printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use serde::Serialize;
use valdrix_shared::config::{self, Environment, VarSet, Violation};
use valdrix_shared::waiver::{self, Waiver};

#[derive(clap::Args)]
pub struct Args {
    /// Judge as this environment, overriding ENVIRONMENT.
    #[arg(long, value_enum)]
    environment: Option<EnvArg>,
    /// Check only the variables of this dotenv file instead of the process env.
    #[arg(long, value_name = "PATH")]
    env_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum EnvArg {
    Local,
    Development,
    Staging,
    Production,
}

impl From<EnvArg> for Environment {
    fn from(e: EnvArg) -> Self {
        match e {
            EnvArg::Local => Environment::Local,
            EnvArg::Development => Environment::Development,
            EnvArg::Staging => Environment::Staging,
            EnvArg::Production => Environment::Production,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    environment: &'a str,
    violations: &'a [Violation],
    /// The forecaster waiver in force, with its time left (absent when none is needed).
    #[serde(skip_serializing_if = "Option::is_none")]
    forecaster_waiver: Option<&'a Waiver>,
}

pub async fn run(args: Args) -> ExitCode {
    let vars = match &args.env_file {
        Some(path) => match VarSet::from_dotenv_file(path) {
            Ok(vars) => vars,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        None => VarSet::from_process_env(),
    };
    let override_env = args.environment.map(Environment::from);
    let environment = override_env
        .map(Environment::as_str)
        .unwrap_or_else(|| reported_environment(&vars));
    let now = chrono::Utc::now();
    let (violations, waiver) = match config::load(vars, override_env, now).await {
        Ok(config) => (Vec::new(), waiver::waiver(&config, now)),
        Err(v) => (v, None),
    };
    let ok = violations.is_empty();
    match args.format {
        Format::Json => {
            let report = Report {
                ok,
                environment,
                violations: &violations,
                forecaster_waiver: waiver.as_ref(),
            };
            println!(
                "{}",
                serde_json::to_string(&report).expect("report serializes")
            );
        }
        Format::Text if ok => {
            println!("runtime_env_validation_passed environment={environment}");
            if let Some(w) = &waiver {
                print_waiver(w);
            }
        }
        Format::Text => {
            eprintln!(
                "runtime_env_validation_failed environment={environment} violations={}",
                violations.len()
            );
            for v in &violations {
                eprintln!("{v}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The waiver's deadline: a line on stdout, and a warning on stderr inside
/// the last 48 hours (the exit code stays 0: the contract holds until then).
fn print_waiver(w: &Waiver) {
    let at = w
        .expires_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    println!(
        "forecaster_waiver expires_at={at} hours_left={}",
        w.hours_left
    );
    if w.expiring {
        eprintln!(
            "warning: the forecaster waiver ends in {} h (under {} h): renew FORECASTER_BREAK_GLASS_EXPIRES_AT \
             in the runtime secret and deploy, or every new cold start fails from {at} (docs/deploy.md)",
            w.hours_left,
            waiver::WARN_HOURS
        );
    }
}

/// The environment as the contract reads it; a value outside the enum is
/// shown as `invalid` (its own violation says why).
fn reported_environment(vars: &VarSet) -> &'static str {
    match vars.get(config::vars::ENVIRONMENT) {
        None => "development",
        Some(raw) => ["local", "development", "staging", "production"]
            .into_iter()
            .find(|e| *e == raw)
            .unwrap_or("invalid"),
    }
}
