//! The gates infra/lint-deploy.sh runs can fail: checkov's verdict
//! (infra/checkov-gate.py) on an unjustified finding, a skip without a
//! reason and a stale skip; actionlint on a workflow that grants its nested
//! rollout too little. Uses the tools lint-deploy.sh installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(venv: &str, binary: &str) -> PathBuf {
    let tools = std::env::var_os("VALDRIX_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".valdrix-tools"));
    let path = tools.join(venv).join("bin").join(binary);
    assert!(
        path.is_file(),
        "{} is missing: run infra/lint-deploy.sh (infra/test-all does) to install it",
        path.display()
    );
    path
}

fn gate(report: serde_json::Value, skips: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (r, s) = (
        dir.path().join("report.json"),
        dir.path().join("skips.yaml"),
    );
    std::fs::write(&r, report.to_string()).unwrap();
    std::fs::write(&s, skips).unwrap();
    Command::new(tool("checkov-venv", "python"))
        .arg(root().join("infra/checkov-gate.py"))
        .args([&r, &s])
        .output()
        .unwrap()
}

fn report(failed: &[(&str, &str)]) -> serde_json::Value {
    json!({"check_type": "cloudformation", "results": {
        "passed_checks": [{"check_id": "CKV_AWS_1", "resource": "AWS::S3::Bucket.A"}],
        "failed_checks": failed.iter().map(|(id, r)| json!({"check_id": id, "resource": r})).collect::<Vec<_>>(),
    }})
}

const REASON: &str = "a reason long enough to say why it holds";

#[test]
fn the_checkov_gate_passes_only_justified_current_skips() {
    let ok = gate(
        report(&[("CKV_AWS_21", "AWS::S3::Bucket.A")]),
        &format!("- id: CKV_AWS_21\n  why: {REASON}\n"),
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let unlisted = gate(report(&[("CKV_AWS_21", "AWS::S3::Bucket.A")]), "[]\n");
    assert_eq!(unlisted.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unlisted.stderr)
            .contains("CKV_AWS_21 fails on AWS::S3::Bucket.A and is not in")
    );

    let no_reason = gate(
        report(&[("CKV_AWS_21", "AWS::S3::Bucket.A")]),
        "- id: CKV_AWS_21\n  why: because\n",
    );
    assert_eq!(no_reason.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no_reason.stderr).contains("CKV_AWS_21: skipped without a reason")
    );

    let stale = gate(report(&[]), &format!("- id: CKV_AWS_21\n  why: {REASON}\n"));
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("fails nothing: remove the skip"));

    let empty = gate(json!({"error": "no template"}), "[]\n");
    assert_eq!(empty.status.code(), Some(1), "no report is no pass");
}

#[test]
fn actionlint_refuses_a_rollout_without_its_oidc_permission() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    // A project root, so actionlint reads the local reusable workflow.
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    for name in ["deploy.yml", "rollout.yml"] {
        std::fs::copy(
            root().join(".github/workflows").join(name),
            workflows.join(name),
        )
        .unwrap();
    }
    let lint = |dir: &Path| {
        Command::new(tool("actionlint-venv", "actionlint"))
            .current_dir(dir)
            .args(["-no-color", "-pyflakes=", "-shellcheck="])
            .arg(".github/workflows/deploy.yml")
            .arg(".github/workflows/rollout.yml")
            .output()
            .unwrap()
    };
    let ok = lint(dir.path());
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    let deploy = std::fs::read_to_string(workflows.join("deploy.yml")).unwrap();
    // The callers of rollout.yml without their own grant: the workflow's
    // `contents: read` leaves the nested job no OIDC token.
    let narrowed = deploy.replace(
        "    permissions:\n      contents: read\n      id-token: write\n",
        "",
    );
    assert_ne!(narrowed, deploy);
    std::fs::write(workflows.join("deploy.yml"), narrowed).unwrap();
    let refused = lint(dir.path());
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("requires \"id-token: write\""));
}
