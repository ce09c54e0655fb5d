//! The release build agrees with the crates and the template: every
//! `functions/<crate>` builds one binary of its own name (SAM's cargo-lambda
//! builder and infra/build-lambdas take it by that name), for the template's
//! architecture, and `sam build` never reuses a binary built before a change
//! elsewhere in the workspace (SAM's cache keys a function on its own
//! directory only: a change in shared/ would ship stale code).

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The value of `key` in `[section]` of a TOML file (simple `key = value` lines).
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// Every problem between samconfig.toml, the build script, the template and the crates.
fn check(samconfig: &str, build_script: &str, template: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if toml_value(samconfig, "default.build.parameters", "cached").as_deref() == Some("true") {
        problems.push(
            "samconfig.toml: `sam build` is cached, so a change in shared/ would ship old binaries"
                .to_owned(),
        );
    }
    let template = &YamlLoader::load_from_str(template).expect("YAML")[0];
    fn arch(f: &Yaml) -> Option<Vec<&str>> {
        f["Architectures"]
            .as_vec()
            .map(|v| v.iter().filter_map(Yaml::as_str).collect())
    }
    let global = arch(&template["Globals"]["Function"]);
    let mut arches = vec![("Globals", global.clone())];
    for (id, r) in template["Resources"].as_hash().expect("Resources") {
        if r["Type"].as_str() == Some("AWS::Serverless::Function") {
            arches.push((
                id.as_str().unwrap_or("?"),
                arch(&r["Properties"]).or(global.clone()),
            ));
        }
    }
    for (id, a) in arches {
        if a.as_deref() != Some(&["arm64"][..]) {
            problems.push(format!(
                "{id}: Architectures {a:?}, the release build is --arm64"
            ));
        }
    }
    if !build_script.contains("cargo lambda build --release --arm64") {
        problems
            .push("infra/build-lambdas does not run cargo lambda build --release --arm64".into());
    }
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if toml_value(&manifest, "package", "name").as_deref() != Some(name.as_str()) {
            problems.push(format!("functions/{name}: the package is not named {name}"));
        }
        let bins = manifest.matches("[[bin]]").count();
        let bin_named = toml_value(&manifest, "[bin]", "name");
        if !dir.join("src/main.rs").is_file()
            || bins > 1
            || (bins == 1 && bin_named.as_deref() != Some(name.as_str()))
        {
            problems.push(format!("functions/{name}: not one binary from src/main.rs"));
        }
    }
    problems
}

#[test]
fn the_release_build_matches_the_crates_and_the_template() {
    let problems = check(
        &read("samconfig.toml"),
        &read("infra/build-lambdas"),
        &read("template.yaml"),
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_cached_sam_build_fails_the_check() {
    let cached = read("samconfig.toml").replace("cached = false", "cached = true");
    let problems = check(
        &cached,
        &read("infra/build-lambdas"),
        &read("template.yaml"),
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("shared/"), "{problems:#?}");
}

#[test]
fn a_function_for_another_architecture_fails_the_check() {
    let template = read("template.yaml").replace(
        "      CodeUri: functions/health\n",
        "      CodeUri: functions/health\n      Architectures: [x86_64]\n",
    );
    let problems = check(
        &read("samconfig.toml"),
        &read("infra/build-lambdas"),
        &template,
    );
    assert_eq!(
        problems,
        ["HealthFunction: Architectures Some([\"x86_64\"]), the release build is --arm64"]
    );
}
