//! The checklist's smoke tests, end to end: `valdrix smoke` against
//! `valdrix serve --sandbox` on a fresh data dir.

use std::process::Command;

use valdrix_tests::serve::ServeProcess;

#[test]
fn smoke_passes_against_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(
        env!("CARGO_BIN_EXE_valdrix"),
        &dir.path().join(".valdrix"),
        &["--sandbox"],
        &[],
    );
    let report = dir.path().join("smoke.json");
    let out = Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args([
            "smoke",
            "--base-url",
            &serve.base,
            "--token",
            serve.token("owner"),
        ])
        .args([
            "--admin-key",
            serve.admin_key.as_deref().expect("admin key"),
            "--report",
        ])
        .arg(&report)
        .env_clear()
        .output()
        .expect("run valdrix smoke");
    drop(serve);
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
