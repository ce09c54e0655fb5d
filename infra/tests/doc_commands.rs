//! The docs' commands, run as written: every `curl` and `valdrix` command in
//! the README's and docs/production_env_checklist.md's `sh` blocks runs
//! against `valdrix serve --sandbox` and must give the answer its comment
//! states (`# → 200`: the HTTP status curl prints last; `# → exit N`).
//!
//! Each block runs as one bash script in a fresh directory, with the
//! variables of serve's `export` line (VALDRIX_API, TENANT_ID, TOKEN,
//! ADMIN_KEY), DATABASE_URL naming serve's store, and a `prod.env` that
//! passes the production contract. `cargo run --release --bin valdrix --` is
//! read as the `valdrix` binary this build made (building it again would only
//! repeat the build). Not run, and listed below: `sam` (needs an AWS account),
//! `infra/test-all` (this suite), `valdrix serve` itself (the fixture) and
//! `infra/local-stack` (it serves until stopped; `local_stack.rs` runs it).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use valdrix_tests::serve::ServeProcess;

const DOCS: [&str; 2] = ["README.md", "docs/production_env_checklist.md"];
const CARGO_RUN: &str = "cargo run --release --bin valdrix --";
/// Printed after each command, with its exit status.
const MARK: &str = "@@doc-command-exit";

#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Exit(i32),
    Http(u16),
}

#[derive(Debug)]
struct Step {
    doc: &'static str,
    command: String,
    answer: Option<Answer>,
}

/// Every `sh` block of `doc`, as its commands (continuation lines joined).
fn blocks(doc: &'static str) -> Vec<Vec<Step>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {doc}: {e}"));
    let mut blocks = Vec::new();
    let mut current: Option<Vec<Step>> = None;
    let mut pending = String::new();
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().expect("open block")),
            (Some(steps), l) => {
                if let Some(head) = l.strip_suffix('\\') {
                    pending.push_str(head);
                    pending.push(' ');
                    continue;
                }
                pending.push_str(l);
                let command = std::mem::take(&mut pending);
                if !command.trim().is_empty() && !command.trim_start().starts_with('#') {
                    steps.push(Step {
                        doc,
                        answer: answer(&command),
                        command,
                    });
                }
            }
            _ => {}
        }
    }
    blocks
}

/// The `# → …` comment at the end of a command.
fn answer(command: &str) -> Option<Answer> {
    let (_, tail) = command.rsplit_once("# → ")?;
    let tail = tail.trim();
    match tail.strip_prefix("exit ") {
        Some(code) => code.parse().ok().map(Answer::Exit),
        None => tail.parse().ok().map(Answer::Http),
    }
}

/// Why a command is not run, if it is not.
fn not_run(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["sam", ..] => Some("needs an AWS account"),
        ["infra/test-all", ..] => Some("is this suite"),
        ["infra/local-stack", ..] => Some("runs until stopped; infra/tests/local_stack.rs runs it"),
        _ if command.starts_with(&format!("{CARGO_RUN} serve")) => Some("is the fixture"),
        _ => None,
    }
}

fn is_api_command(command: &str) -> bool {
    let first = command.split_whitespace().next().unwrap_or_default();
    matches!(first, "curl" | "valdrix") || command.starts_with(CARGO_RUN)
}

/// A `prod.env` the production contract accepts (values made up here).
fn prod_env() -> String {
    let expiry = (Utc::now() + Duration::hours(72)).to_rfc3339();
    [
        ("ENVIRONMENT", "production"),
        ("DATABASE_URL", "dynamodb://valdrix-prod"),
        (
            "SUPABASE_JWT_SECRET",
            "doc-jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6g",
        ),
        ("ENCRYPTION_KEY", "doc-enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6"),
        ("CSRF_SECRET_KEY", "doc-csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI"),
        ("ADMIN_API_KEY", "doc-adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5"),
        ("KDF_SALT", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ("LLM_PROVIDER", "groq"),
        ("GROQ_API_KEY", "gsk_live_9f8e7d6c5b4a3f2e1d0c"),
        ("PAYSTACK_SECRET_KEY", "sk_live_4f3e2d1c0b9a8f7e6d5c"),
        ("PAYSTACK_PUBLIC_KEY", "pk_live_1a2b3c4d5e6f"),
        ("CORS_ORIGINS", r#"'["https://app.valdrix.io"]'"#),
        ("SAAS_STRICT_INTEGRATIONS", "true"),
        ("FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK", "true"),
        ("FORECASTER_BREAK_GLASS_REASON", "'INC-4211 prophet wheel'"),
        ("FORECASTER_BREAK_GLASS_EXPIRES_AT", expiry.as_str()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={v}\n"))
    .collect()
}

/// Runs one block's commands in one shell; each command's output and status.
fn run_block(steps: &[&Step], env: &BTreeMap<String, String>, dir: &Path) -> Vec<(String, i32)> {
    let mut script = String::from("set -u\n");
    for step in steps {
        let command = step.command.replacen(CARGO_RUN, "valdrix", 1);
        script.push_str(&format!("{command}\necho \"{MARK} $?\"\n"));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut results = Vec::new();
    let mut output = String::new();
    for line in stdout.lines() {
        match line.strip_prefix(MARK) {
            Some(code) => results.push((
                std::mem::take(&mut output),
                code.trim().parse().unwrap_or(-1),
            )),
            None => {
                output.push_str(line);
                output.push('\n');
            }
        }
    }
    assert_eq!(
        results.len(),
        steps.len(),
        "the block stopped early; stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    results
}

#[test]
fn every_documented_command_gives_its_documented_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join(".valdrix");
    let serve = ServeProcess::start(
        env!("CARGO_BIN_EXE_valdrix"),
        &data_dir,
        &["--sandbox"],
        &[],
    );
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_valdrix"), bin.join("valdrix")).unwrap();
    let mut env = serve.exports.clone();
    for name in ["VALDRIX_API", "TENANT_ID", "TOKEN", "ADMIN_KEY"] {
        assert!(
            env.contains_key(name),
            "serve's export line lacks {name}:\n{}",
            serve.banner
        );
    }
    env.insert(
        "PATH".into(),
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    env.insert(
        "DATABASE_URL".into(),
        format!("sqlite://{}", data_dir.join("valdrix.sqlite").display()),
    );

    let mut ran = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for doc in DOCS {
        for block in blocks(doc) {
            let work = tempfile::tempdir().unwrap();
            std::fs::write(work.path().join("prod.env"), prod_env()).unwrap();
            let steps: Vec<&Step> = block
                .iter()
                .filter(|s| match not_run(&s.command) {
                    Some(why) => {
                        skipped.push(format!("{}: {} ({why})", s.doc, s.command.trim()));
                        false
                    }
                    None => true,
                })
                .collect();
            if steps.is_empty() {
                continue;
            }
            for (step, (output, status)) in steps.iter().zip(run_block(&steps, &env, work.path())) {
                ran += 1;
                let expected = step.answer.clone().unwrap_or(Answer::Exit(0));
                if is_api_command(&step.command) && step.answer.is_none() {
                    failures.push(format!(
                        "{}: `{}` states no answer (end it with `# → 200` or `# → exit 0`)",
                        step.doc,
                        step.command.trim()
                    ));
                    continue;
                }
                let got = match expected {
                    Answer::Exit(_) => Answer::Exit(status),
                    Answer::Http(_) => Answer::Http(
                        output
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim()
                            .parse()
                            .unwrap_or(0),
                    ),
                };
                if got != expected {
                    failures.push(format!(
                        "{}: `{}`\n  expected {expected:?}, got {got:?} (exit {status}); output:\n{output}",
                        step.doc,
                        step.command.trim()
                    ));
                }
            }
        }
    }
    println!(
        "ran {ran} documented commands; not run:\n  {}",
        skipped.join("\n  ")
    );
    assert!(ran >= 15, "only {ran} commands found in {DOCS:?}");
    assert!(
        failures.is_empty(),
        "documented commands that do not do what their doc says:\n{}\nserve's errors: {:?}",
        failures.join("\n"),
        serve.error_lines()
    );
}
