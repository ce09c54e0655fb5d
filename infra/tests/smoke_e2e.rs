//! The checklist's smoke tests, end to end: `valdrix smoke` against
//! `valdrix serve --sandbox` on a fresh data dir.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn smoke_passes_against_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args(["serve", "--sandbox", "--port", "0", "--data-dir"])
        .arg(dir.path().join(".valdrix"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start valdrix serve --sandbox");
    let (mut base, mut admin_key, mut owner) = (None, None, None);
    for line in BufReader::new(serve.stdout.take().unwrap()).lines() {
        let line = line.expect("banner");
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("valdrix serve: listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("curl -H 'X-Admin-Key: ") {
            admin_key = rest.split('\'').next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("curl -X POST -H 'Authorization: Bearer ") {
            owner = rest.split('\'').next().map(str::to_owned);
        } else if line.ends_with("/_sandbox/received") {
            break;
        }
    }
    let report = dir.path().join("smoke.json");
    let out = Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args([
            "smoke",
            "--base-url",
            &base.expect("URL"),
            "--token",
            &owner.expect("owner token"),
        ])
        .args(["--admin-key", &admin_key.expect("admin key"), "--report"])
        .arg(&report)
        .env_clear()
        .output()
        .expect("run valdrix smoke");
    let _ = serve.kill();
    let _ = serve.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "smoke failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "health",
        "test-jira",
        "test-workflow",
        "evidence-capture",
        "evidence-list",
        "compliance-pack",
        "policy-event",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("PASS") && l.contains(step)),
            "no PASS line for {step}:\n{stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    assert!(report.to_string().contains("pass"), "{report}");
}
