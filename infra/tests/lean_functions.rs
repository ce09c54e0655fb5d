//! Each function links only what it uses (docs/adr/0010): its dependency tree
//! as a release build of that function alone resolves it (`cargo tree -p
//! <function> -e normal`, no build), held to the rules below. A function that
//! gains a capability it does not call, or a crate that brings a second TLS
//! provider, fails here by name.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("functions"))
        .expect("read functions/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The crates of `function`'s normal dependency tree, by name.
fn tree(function: &str) -> BTreeSet<String> {
    cargo_tree(function, &["-e", "normal", "--format", "{p}"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The features of `krate` that `function`'s release build enables.
fn features_of(function: &str, krate: &str) -> BTreeSet<String> {
    let prefix = format!("{krate} feature \"");
    cargo_tree(function, &["-e", "normal,features", "-i", krate])
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|l| l.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The features of valdrix-shared that `function`'s release build enables.
fn shared_features(function: &str) -> BTreeSet<String> {
    features_of(function, "valdrix-shared")
}

/// `cargo tree` of `function` alone, no prefix.
fn cargo_tree(function: &str, args: &[&str]) -> String {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(root())
        .args(["tree", "--locked", "--offline", "--prefix", "none"])
        .args(args)
        .args(["-p", function]);
    // cargo set these for this test; the tree must be the release build's.
    for (name, _) in std::env::vars() {
        if name.starts_with("CARGO_FEATURE_") || name == "CARGO_PRIMARY_PACKAGE" {
            cargo.env_remove(name);
        }
    }
    let out = cargo.output().expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {function}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_function_creates_tables_or_embeds_the_local_store() {
    let mut wrong = Vec::new();
    for function in functions() {
        let features = shared_features(&function);
        // Every function names at least one capability beside `default`.
        assert!(
            features.contains("default") && features.len() > 1,
            "{function}: features {features:?}: is the tree read right?"
        );
        for feature in ["provision", "sqlite", "full"] {
            if features.contains(feature) {
                wrong.push(format!("{function} enables valdrix-shared/{feature}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Debug and trace events of the SDK, hyper and rustls are compiled out of
/// every function's release build (about 0.7 MiB of resident code).
#[test]
fn every_function_compiles_out_debug_and_trace_events() {
    let mut wrong = Vec::new();
    for function in functions() {
        for krate in ["tracing", "log"] {
            let features = features_of(&function, krate);
            assert!(!features.is_empty(), "{function}: no {krate} in its tree?");
            if !features.contains("release_max_level_info") {
                wrong.push(format!(
                    "{function}: {krate} without release_max_level_info"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_function_links_only_the_capabilities_it_uses() {
    // The crates only some functions may link, and which.
    let allowed: [(&str, &[&str]); 7] = [
        ("rusqlite", &[]),
        // compliance-export holds the export jobs (their options and records),
        // compliance-pack-worker builds the packs.
        ("zip", &["compliance-export", "compliance-pack-worker"]),
        // compliance-export signs its download links itself (aws-sigv4).
        ("aws-sdk-s3", &["compliance-pack-worker", "cost-ingest"]),
        (
            "csv",
            &["compliance-export", "compliance-pack-worker", "cost-ingest"],
        ),
        (
            "aws-sdk-lambda",
            &[
                "compliance-export",
                "compliance-pack-worker",
                "post-deploy-hook",
            ],
        ),
        (
            "reqwest",
            &[
                "evidence",
                "evidence-daily",
                "notification-dispatcher",
                "notification-test",
                "post-deploy-hook",
            ],
        ),
        ("ring", &[]),
    ];
    let mut wrong = Vec::new();
    for function in functions() {
        let crates = tree(&function);
        assert!(
            crates.contains("valdrix-shared"),
            "{function} has no valdrix-shared"
        );
        for (krate, only) in allowed {
            if crates.contains(krate) && !only.contains(&function.as_str()) {
                wrong.push(format!("{function} links {krate}"));
            }
        }
        if !crates.contains("aws-lc-rs") {
            wrong.push(format!(
                "{function} links no aws-lc-rs (the tree's one TLS provider)"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "capabilities linked where unused:\n{}",
        wrong.join("\n")
    );
}
