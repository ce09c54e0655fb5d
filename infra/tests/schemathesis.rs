//! schemathesis against `valdrix serve --sandbox` on a fresh data dir: every
//! operation of docs/openapi.yaml with generated valid and invalid input, as
//! the demo tenant's owner (pro tier) with the operator key. Any 5xx (beyond a
//! test call's documented 502/504), undocumented status, content type, header
//! or body fails the test with schemathesis' report. Settings and why:
//! infra/schemathesis.toml and docs/testing.md.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;

/// Generated cases per operation and phase; keeps the run near a minute on
/// two cores (the coverage phase adds its own fixed set on top).
const MAX_EXAMPLES: &str = "25";
/// A fixed seed: a failure reproduces with the same command.
const SEED: &str = "20240917";
/// The tenant infra/schemathesis.toml sends tier and membership changes to.
const TARGET_TENANT: &str = "schemathesis";

struct Server {
    child: Child,
    base: String,
    owner_token: String,
    admin_key: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn schemathesis() -> String {
    match std::env::var("VALDRIX_TEST_SCHEMATHESIS") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "schemathesis is not installed: VALDRIX_TEST_SCHEMATHESIS is unset. Run the whole \
             suite with `infra/test-all`, or `eval \"$(infra/emulators.sh start)\"` (it installs \
             schemathesis into .valdrix-tools/) and run `cargo test` in that shell."
        ),
    }
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Starts the server and reads the owner's token and the admin key from its banner.
fn start(dir: &Path) -> Server {
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args(["serve", "--sandbox", "--port", "0", "--data-dir"])
        .arg(dir.join(".valdrix"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(File::create(&log).expect("create the server log"))
        .spawn()
        .expect("start valdrix serve --sandbox");
    let stdout = child.stdout.take().expect("piped stdout");
    let (mut base, mut owner_token, mut admin_key) = (None, None, None);
    let mut role = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read the banner");
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("valdrix serve: listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("# ") {
            role = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        } else if let Some(rest) = line.strip_prefix("curl -H 'Authorization: Bearer ")
            && role == "owner"
        {
            owner_token = rest.split('\'').next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("curl -H 'X-Admin-Key: ") {
            admin_key = rest.split('\'').next().map(str::to_owned);
        } else if line.ends_with("/_sandbox/received") {
            break;
        }
    }
    Server {
        child,
        base: base.expect("the banner names the URL"),
        owner_token: owner_token.expect("the banner shows the owner's token"),
        admin_key: admin_key.expect("the banner shows the admin key"),
        log,
    }
}

#[tokio::test]
async fn the_api_answers_as_docs_openapi_yaml_says() {
    let st = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/tenants", server.base))
        .header("X-Admin-Key", &server.admin_key)
        .json(&json!({"id": TARGET_TENANT, "name": "schemathesis target", "tier": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "create the {TARGET_TENANT} tenant");

    let started = std::time::Instant::now();
    // Run in the temp dir: schemathesis writes nothing into the repository.
    let out = tokio::process::Command::new(&st)
        .current_dir(dir.path())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .arg("--config-file")
        .arg(repo_file("infra/schemathesis.toml"))
        .args(["--no-color", "run"])
        .arg(repo_file("docs/openapi.yaml"))
        .args(["--url", &server.base])
        .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES])
        // One worker: CPython 3.11 before 3.11.8 shares ast.parse's recursion
        // counter between threads (gh-106905), and hypothesis parses sources
        // while describing lambdas, so two workers fail at random with
        // "AST constructor recursion depth mismatch".
        .args(["--workers", "1", "--request-timeout", "30"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", server.owner_token))
        .arg("--header")
        .arg(format!("X-Admin-Key: {}", server.admin_key))
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {st}: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    println!("schemathesis took {:.0?}", started.elapsed());
    if !out.status.success() {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\"") || l.contains("panicked"))
            .collect();
        panic!(
            "schemathesis found answers that break docs/openapi.yaml ({}); fix the description \
             or the code (docs/testing.md). The server's error lines: {}",
            out.status,
            if errors.is_empty() {
                "none".to_owned()
            } else {
                format!("\n{}", errors.join("\n"))
            }
        );
    }
}
