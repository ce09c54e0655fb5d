//! The checklist's change rule: every variable the contract knows is in
//! `.env.example`, and the docs name every strict-mode and production variable.

use valdrix_shared::config::vars::{KNOWN, STRICT_FORBIDDEN_EXACT, STRICT_FORBIDDEN_PREFIXES};

fn read(rel: &str) -> String {
    let path = format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn env_example_lists_every_known_variable() {
    let example = read(".env.example");
    let assigned: Vec<&str> = example
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let missing: Vec<&str> = KNOWN
        .iter()
        .map(|v| v.name)
        .filter(|name| !assigned.contains(name))
        .collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[test]
fn env_example_keeps_strict_forbidden_variables_commented_out() {
    let example = read(".env.example");
    for line in example.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        assert!(
            !STRICT_FORBIDDEN_EXACT.contains(&name)
                && !STRICT_FORBIDDEN_PREFIXES
                    .iter()
                    .any(|p| name.starts_with(p)),
            "{name} is active in .env.example but strict mode forbids it"
        );
    }
    for name in STRICT_FORBIDDEN_EXACT {
        assert!(
            example.contains(&format!("# {name}=")),
            "{name} not documented"
        );
    }
}

#[test]
fn docs_name_every_strict_and_production_variable() {
    for doc in [
        "docs/production_env_checklist.md",
        "docs/integrations/workflow_automation.md",
    ] {
        let text = read(doc);
        for name in STRICT_FORBIDDEN_EXACT
            .iter()
            .chain(STRICT_FORBIDDEN_PREFIXES.iter())
        {
            assert!(text.contains(name), "{doc} does not mention {name}");
        }
        assert!(
            text.contains("SLACK_BOT_TOKEN"),
            "{doc} does not mention SLACK_BOT_TOKEN"
        );
    }
    let checklist = read("docs/production_env_checklist.md");
    for var in KNOWN
        .iter()
        .filter(|v| v.name != "VALDRIX_ALLOW_PRIVATE_OUTBOUND")
    {
        assert!(
            checklist.contains(var.name),
            "checklist does not mention {}",
            var.name
        );
    }
    assert!(checklist.contains("valdrix validate-runtime-env"));
}
