//! `valdrix validate-runtime-env`: the runtime contract as a pre-rollout check.
//! Exit 0 passed, 1 violations, 2 usage error. No value is ever printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use serde::Serialize;
use valdrix_shared::config::{self, Environment, VarSet, Violation};

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
    let violations = match config::load(vars, override_env, chrono::Utc::now()).await {
        Ok(_) => Vec::new(),
        Err(v) => v,
    };
    let ok = violations.is_empty();
    match args.format {
        Format::Json => {
            let report = Report {
                ok,
                environment,
                violations: &violations,
            };
            println!(
                "{}",
                serde_json::to_string(&report).expect("report serializes")
            );
        }
        Format::Text if ok => println!("runtime_env_validation_passed environment={environment}"),
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
