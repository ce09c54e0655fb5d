//! template.yaml against the code and the API description: every crate under
//! `functions/` is a function of the template (`CodeUri: functions/<crate>`,
//! built with cargo-lambda), and the template's HttpApi routes are exactly the
//! routes of `docs/openapi.yaml`. CloudFormation short tags (`!Ref`, `!Sub`,
//! `!GetAtt`) are ignored by the YAML loader: only plain values are read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

type Route = (String, String);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn load(text: &str, what: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("{what} is not YAML: {e}"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{what} is empty"))
}

fn functions(template: &Yaml) -> Vec<(String, &Yaml)> {
    template["Resources"]
        .as_hash()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().unwrap_or("?").to_owned(), r))
        .collect()
}

/// Every (METHOD, path) of the template's HttpApi events.
fn template_routes(template: &Yaml) -> BTreeSet<Route> {
    let mut routes = BTreeSet::new();
    for (_, function) in functions(template) {
        let Some(events) = function["Properties"]["Events"].as_hash() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() == Some("HttpApi") {
                let props = &event["Properties"];
                routes.insert((
                    props["Method"]
                        .as_str()
                        .expect("Method")
                        .to_ascii_uppercase(),
                    props["Path"].as_str().expect("Path").to_owned(),
                ));
            }
        }
    }
    routes
}

fn openapi_routes(openapi: &Yaml) -> BTreeSet<Route> {
    const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];
    let mut routes = BTreeSet::new();
    for (path, item) in openapi["paths"].as_hash().expect("paths") {
        for method in METHODS {
            if !item[method].is_badvalue() {
                routes.insert((
                    method.to_ascii_uppercase(),
                    path.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    routes
}

/// Crate directories under functions/.
fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every problem between the template, the API description and the crates.
fn check(template_text: &str, openapi_text: &str, crates: &BTreeSet<String>) -> Vec<String> {
    let template = load(template_text, "template.yaml");
    let openapi = load(openapi_text, "docs/openapi.yaml");
    let mut problems = Vec::new();

    let in_template = template_routes(&template);
    let in_openapi = openapi_routes(&openapi);
    for (m, p) in in_openapi.difference(&in_template) {
        problems.push(format!(
            "route {m} {p} is in docs/openapi.yaml but not in template.yaml"
        ));
    }
    for (m, p) in in_template.difference(&in_openapi) {
        problems.push(format!(
            "route {m} {p} is in template.yaml but not in docs/openapi.yaml"
        ));
    }

    let mut code_uris = BTreeSet::new();
    for (id, function) in functions(&template) {
        let uri = function["Properties"]["CodeUri"].as_str().unwrap_or("");
        match uri.strip_prefix("functions/") {
            Some(name) if crates.contains(name) => {
                code_uris.insert(name.to_owned());
            }
            _ => problems.push(format!(
                "{id}: CodeUri {uri:?} is not a crate under functions/"
            )),
        }
        if function["Metadata"]["BuildMethod"].as_str() != Some("rust-cargolambda") {
            problems.push(format!(
                "{id}: Metadata.BuildMethod is not rust-cargolambda"
            ));
        }
    }
    for name in crates.difference(&code_uris) {
        problems.push(format!("functions/{name} has no function in template.yaml"));
    }
    problems
}

#[test]
fn template_openapi_and_crates_agree() {
    let problems = check(
        &read("template.yaml"),
        &read("docs/openapi.yaml"),
        &function_crates(),
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_template_has_routes_and_the_functions_of_this_workspace() {
    let template = load(&read("template.yaml"), "template.yaml");
    let routes = template_routes(&template);
    assert!(
        routes.contains(&("GET".into(), "/health".into())),
        "{routes:?}"
    );
    assert!(
        routes.contains(&("GET".into(), "/api/v1/me".into())),
        "{routes:?}"
    );
    let crates = function_crates();
    for name in ["health", "admin", "post-deploy-hook"] {
        assert!(crates.contains(name), "{crates:?}");
    }
}

/// Drop the lines from `start` (a unique line) up to the next line indented
/// no deeper than it.
fn remove_block(text: &str, start: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_end() == start)
        .unwrap_or_else(|| panic!("no line {start:?}"));
    let indent = |l: &str| l.len() - l.trim_start().len();
    let depth = indent(lines[at]);
    let end = lines[at + 1..]
        .iter()
        .position(|l| !l.trim().is_empty() && indent(l) <= depth)
        .map_or(lines.len(), |n| at + 1 + n);
    let mut out: Vec<&str> = lines[..at].to_vec();
    out.extend_from_slice(&lines[end..]);
    out.join("\n") + "\n"
}

#[test]
fn removing_a_route_from_the_template_fails_the_check() {
    let template = remove_block(&read("template.yaml"), "        Me:");
    let problems = check(&template, &read("docs/openapi.yaml"), &function_crates());
    assert_eq!(
        problems,
        ["route GET /api/v1/me is in docs/openapi.yaml but not in template.yaml"]
    );
}

#[test]
fn a_route_missing_from_openapi_fails_the_check() {
    let openapi = remove_block(&read("docs/openapi.yaml"), "  /health/live:");
    let problems = check(&read("template.yaml"), &openapi, &function_crates());
    assert_eq!(
        problems,
        ["route GET /health/live is in template.yaml but not in docs/openapi.yaml"]
    );
}

#[test]
fn removing_a_function_from_the_template_fails_the_check() {
    let template = remove_block(&read("template.yaml"), "  PostDeployHookFunction:");
    let problems = check(&template, &read("docs/openapi.yaml"), &function_crates());
    assert_eq!(
        problems,
        ["functions/post-deploy-hook has no function in template.yaml"]
    );

    // A function with routes takes its routes with it.
    let template = remove_block(&read("template.yaml"), "  HealthFunction:");
    let problems = check(&template, &read("docs/openapi.yaml"), &function_crates());
    assert!(problems.contains(&"functions/health has no function in template.yaml".to_owned()));
    assert!(
        problems.iter().any(|p| p.starts_with("route GET /health ")),
        "{problems:#?}"
    );
}

#[test]
fn a_function_pointing_at_no_crate_fails_the_check() {
    let template =
        read("template.yaml").replace("CodeUri: functions/admin", "CodeUri: functions/nope");
    let problems = check(&template, &read("docs/openapi.yaml"), &function_crates());
    assert!(
        problems.contains(
            &"AdminFunction: CodeUri \"functions/nope\" is not a crate under functions/".to_owned()
        ),
        "{problems:#?}"
    );
    assert!(problems.contains(&"functions/admin has no function in template.yaml".to_owned()));
}

#[test]
fn every_api_function_deploys_through_the_post_deploy_hook() {
    let template = load(&read("template.yaml"), "template.yaml");
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["AutoPublishAlias"].as_str(), Some("live"));
    assert_eq!(
        globals["DeploymentPreference"]["Type"].as_str(),
        Some("AllAtOnce")
    );
    // `!Sub CodeDeployHook_...`: the tag is dropped, the name stays.
    let hook = globals["DeploymentPreference"]["Hooks"]["PostTraffic"]
        .as_str()
        .expect("a PostTraffic hook");
    let function = &template["Resources"]["PostDeployHookFunction"]["Properties"];
    assert_eq!(
        function["FunctionName"].as_str(),
        Some(hook),
        "the hook is this function"
    );
    assert!(
        hook.starts_with("CodeDeployHook_"),
        "CodeDeploy's role invokes only CodeDeployHook_*"
    );
    assert_eq!(
        function["DeploymentPreference"]["Enabled"].as_bool(),
        Some(false)
    );
    assert!(
        function["Environment"]["Variables"]["VALDRIX_SMOKE_BASE_URL"]
            .as_str()
            .is_some()
    );
    // The pack export's memory bound was measured with it (docs/benchmarks.md).
    assert_eq!(
        globals["Environment"]["Variables"]["MALLOC_ARENA_MAX"].as_str(),
        Some("2")
    );
    for (id, f) in functions(&template) {
        if id != "PostDeployHookFunction" {
            assert!(
                f["Properties"]["DeploymentPreference"].is_badvalue(),
                "{id} overrides the global DeploymentPreference"
            );
        }
    }
}
