//! `valdrix runtime-secret --env-file prod.env --environment production
//! --output secret.json`: the runtime secret's JSON from an env file that
//! passes the contract (the same rules every cold start applies), or nothing
//! and the violations. The file holds the contract variables the template
//! does not set itself; it is written owner-only, and no value is printed.
//! Then: `aws secretsmanager put-secret-value --secret-id <arn>
//! --secret-string file://secret.json`, and delete the file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use valdrix_shared::config::{self, VarSet, vars};

/// Set by template.yaml for every function, so never in the secret.
pub const TEMPLATE_SET: [&str; 5] = [
    vars::ENVIRONMENT,
    vars::DATABASE_URL,
    vars::CORS_ORIGINS,
    vars::VALDRIX_RUNTIME_SECRET_ARN,
    vars::VALDRIX_RUNTIME_SECRET_VERSION,
];

#[derive(clap::Args)]
pub struct Args {
    /// The dotenv file with every contract variable of the deployment.
    #[arg(long, value_name = "PATH")]
    env_file: PathBuf,
    /// The environment the secret is for (its strict rules apply).
    #[arg(long, value_enum)]
    environment: Strict,
    /// Where to write the secret's JSON (created owner-only).
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Strict {
    Staging,
    Production,
}

pub async fn run(args: Args) -> ExitCode {
    let mut vars = match VarSet::from_dotenv_file(&args.env_file) {
        Ok(vars) => vars,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let environment = match args.environment {
        Strict::Staging => "staging",
        Strict::Production => "production",
    };
    vars.set(vars::ENVIRONMENT, environment);
    if let Err(violations) = config::validate(&vars, chrono::Utc::now()) {
        eprintln!(
            "runtime_secret_refused environment={environment} violations={}",
            violations.len()
        );
        for v in &violations {
            eprintln!("{v}");
        }
        return ExitCode::FAILURE;
    }
    let (secret, ignored) = secret_of(&vars);
    if let Err(e) = write_owner_only(&args.output, &secret) {
        eprintln!(
            "error: cannot write {}: {}",
            args.output.display(),
            e.kind()
        );
        return ExitCode::from(2);
    }
    let names: Vec<&str> = secret.keys().map(String::as_str).collect();
    println!(
        "runtime_secret_written file={} environment={environment} variables={}",
        args.output.display(),
        names.join(",")
    );
    if !ignored.is_empty() {
        println!(
            "not in the secret (the template sets them, or the contract does not know them): {}",
            ignored.join(",")
        );
    }
    ExitCode::SUCCESS
}

/// The secret's variables, and the names left out.
fn secret_of(vars: &VarSet) -> (BTreeMap<String, String>, Vec<String>) {
    let mut secret = BTreeMap::new();
    let mut ignored = Vec::new();
    for name in vars.names() {
        let known = vars::KNOWN.iter().any(|k| k.name == name);
        match (known && !TEMPLATE_SET.contains(&name), vars.get(name)) {
            (true, Some(value)) => {
                secret.insert(name.to_owned(), value.to_owned());
            }
            _ => ignored.push(name.to_owned()),
        }
    }
    (secret, ignored)
}

fn write_owner_only(path: &Path, secret: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // An existing file keeps its mode: tighten it too.
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let text = serde_json::to_string_pretty(secret).map_err(std::io::Error::other)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
