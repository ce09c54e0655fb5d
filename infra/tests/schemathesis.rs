//! schemathesis against `valdrix serve --sandbox` on a fresh data dir: every
//! operation of docs/openapi.yaml with generated valid and invalid input, as
//! the demo tenant's owner (pro tier) with the operator key. Any 5xx (beyond a
//! test call's documented 502/504), undocumented status, content type, header
//! or body fails the test with schemathesis' report. Settings and why:
//! infra/schemathesis.toml and docs/testing.md.

use std::path::{Path, PathBuf};

use serde_json::json;
use valdrix_tests::serve::ServeProcess;

/// Generated cases per operation and phase; keeps the run near a minute on
/// two cores (the coverage phase adds its own fixed set on top).
const MAX_EXAMPLES: &str = "25";
/// A fixed seed: a failure reproduces with the same command.
const SEED: &str = "20240917";
/// The tenant infra/schemathesis.toml sends tier and membership changes to.
const TARGET_TENANT: &str = "schemathesis";

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

#[tokio::test]
async fn the_api_answers_as_docs_openapi_yaml_says() {
    let st = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        env!("CARGO_BIN_EXE_valdrix"),
        &dir.path().join(".valdrix"),
        &["--sandbox"],
        &[],
    );
    let admin_key = server.admin_key.clone().expect("a generated admin key");
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/tenants", server.base))
        .header("X-Admin-Key", &admin_key)
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
        // Both generation modes: valid input must get a documented answer,
        // and schema-violating input a 4xx (never a 2xx or 5xx).
        .args([
            "--mode",
            "all",
            "--seed",
            SEED,
            "--max-examples",
            MAX_EXAMPLES,
        ])
        // One worker: CPython 3.11 before 3.11.8 shares ast.parse's recursion
        // counter between threads (gh-106905), and hypothesis parses sources
        // while describing lambdas, so two workers fail at random with
        // "AST constructor recursion depth mismatch".
        .args(["--workers", "1", "--request-timeout", "30"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", server.token("owner")))
        .arg("--header")
        .arg(format!("X-Admin-Key: {admin_key}"))
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
        let errors = server.error_lines();
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
