//! The door rule of docs/openapi.yaml, as a test:
//!
//! 1. every string a request can carry (body fields at any depth, map keys,
//!    path, query and header parameters) has a bound and a character rule:
//!    an `enum`/`const`, a `date`/`date-time`/`uuid` format, or a `pattern`
//!    with a `maxLength` (or a pattern that bounds the length itself);
//! 2. the schema's patterns and the code's rules agree: each pattern, compiled
//!    with the `regex` crate, accepts exactly what the code's rule accepts,
//!    over hand-picked cases and a few thousand seeded random strings.
//!
//! Schemathesis' negative mode (tests/schemathesis.rs) then sends what the
//! schema refuses and expects a 4xx for each.

use std::collections::BTreeSet;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use regex::Regex;
use valdrix_shared::ledger::remediation;
use valdrix_shared::settings::fields;
use valdrix_shared::{idempotency, validate};
use yaml_rust2::{Yaml, YamlLoader};

fn openapi() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("read docs/openapi.yaml");
    YamlLoader::load_from_str(&text)
        .expect("docs/openapi.yaml is YAML")
        .remove(0)
}

/// Follows `$ref`s inside the document.
fn resolve<'a>(doc: &'a Yaml, node: &'a Yaml) -> &'a Yaml {
    match node["$ref"].as_str() {
        Some(r) => {
            let mut at = doc;
            for part in r.trim_start_matches("#/").split('/') {
                at = &at[part];
            }
            resolve(doc, at)
        }
        None => node,
    }
}

fn is_string(schema: &Yaml) -> bool {
    match &schema["type"] {
        Yaml::String(t) => t == "string",
        Yaml::Array(ts) => ts.iter().any(|t| t.as_str() == Some("string")),
        _ => false,
    }
}

/// A pattern such as `^[a-z]{1,62}$` bounds the length by itself.
fn pattern_bounds_length(pattern: &str) -> bool {
    let unbounded = pattern.contains('*') || pattern.contains('+');
    pattern.starts_with('^') && pattern.ends_with('$') && !unbounded
}

/// Every string schema reachable from `schema`, named by where it is.
fn strings(doc: &Yaml, schema: &Yaml, at: String, out: &mut Vec<(String, Yaml)>) {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema[key].as_vec() {
            for (i, s) in list.iter().enumerate() {
                strings(doc, s, format!("{at}/{key}[{i}]"), out);
            }
        }
    }
    if is_string(schema) {
        out.push((at.clone(), schema.clone()));
    }
    if let Some(props) = schema["properties"].as_hash() {
        for (name, s) in props {
            strings(
                doc,
                s,
                format!("{at}.{}", name.as_str().unwrap_or("?")),
                out,
            );
        }
    }
    if let Yaml::Hash(_) = schema["additionalProperties"] {
        strings(doc, &schema["additionalProperties"], format!("{at}.*"), out);
    }
    if schema["propertyNames"].as_hash().is_some() {
        let mut names = schema["propertyNames"].clone();
        if let Yaml::Hash(h) = &mut names {
            h.insert(Yaml::String("type".into()), Yaml::String("string".into()));
        }
        out.push((format!("{at}.<key>"), names));
    }
    if !schema["items"].is_badvalue() {
        strings(doc, &schema["items"], format!("{at}[]"), out);
    }
}

/// Every string of every request the API takes.
fn request_strings(doc: &Yaml) -> Vec<(String, Yaml)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_hash().expect("paths") {
        let path = path.as_str().unwrap_or("?");
        let shared_params = item["parameters"].as_vec().cloned().unwrap_or_default();
        for (method, op) in item.as_hash().expect("path item") {
            let method = method.as_str().unwrap_or("?");
            if method == "parameters" {
                continue;
            }
            let mut params = shared_params.clone();
            params.extend(op["parameters"].as_vec().cloned().unwrap_or_default());
            for p in &params {
                let p = resolve(doc, p);
                let name = p["name"].as_str().unwrap_or("?");
                strings(
                    doc,
                    &p["schema"],
                    format!("{method} {path} {name}"),
                    &mut out,
                );
            }
            let body = resolve(doc, &op["requestBody"]);
            if let Some(content) = body["content"].as_hash() {
                for media in content.values() {
                    strings(
                        doc,
                        &media["schema"],
                        format!("{method} {path} body"),
                        &mut out,
                    );
                }
            }
        }
    }
    out
}

#[test]
fn every_request_string_has_a_bound_and_a_character_rule() {
    let doc = openapi();
    let all = request_strings(&doc);
    assert!(all.len() > 60, "found only {} request strings", all.len());
    let mut unruled = BTreeSet::new();
    for (at, s) in &all {
        let closed = !s["enum"].is_badvalue() || !s["const"].is_badvalue();
        let bounded_format = matches!(s["format"].as_str(), Some("date" | "date-time" | "uuid"));
        let pattern = s["pattern"].as_str();
        let patterned =
            pattern.is_some_and(|p| s["maxLength"].as_i64().is_some() || pattern_bounds_length(p));
        if !(closed || bounded_format || patterned) {
            unruled.insert(at.clone());
        }
    }
    assert!(
        unruled.is_empty(),
        "request strings in docs/openapi.yaml without a maxLength and a pattern (or an enum, or a \
         date/date-time/uuid format): {unruled:#?}"
    );
}

/// An openapi (ECMA-262) pattern as the `regex` crate writes it.
fn compile(pattern: &str) -> Regex {
    let mut rust = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'u') {
            chars.next();
            let hex: String = chars.by_ref().take(4).collect();
            rust.push_str(&format!("\\x{{{hex}}}"));
        } else {
            rust.push(c);
            if c == '\\'
                && let Some(n) = chars.next()
            {
                rust.push(n);
            }
        }
    }
    Regex::new(&rust).unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
}

/// The schema's own rule for one string: pattern and lengths.
struct Rule {
    pattern: Regex,
    min: usize,
    max: usize,
}

impl Rule {
    fn of(schema: &Yaml) -> Self {
        Rule {
            pattern: compile(schema["pattern"].as_str().expect("a pattern")),
            min: schema["minLength"].as_i64().unwrap_or(0) as usize,
            max: schema["maxLength"].as_i64().unwrap_or(i64::MAX) as usize,
        }
    }

    fn accepts(&self, v: &str) -> bool {
        let n = v.chars().count();
        n >= self.min && n <= self.max && self.pattern.is_match(v)
    }
}

fn at<'a>(doc: &'a Yaml, pointer: &str) -> &'a Yaml {
    let mut node = doc;
    for part in pointer.split('/') {
        node = &node[part];
    }
    node
}

/// Characters where rules differ if they differ at all: ASCII, the C1
/// controls, every Unicode space, and a few ordinary letters and marks.
fn interesting_chars() -> Vec<char> {
    let mut chars: Vec<char> = (0u32..=0xff).filter_map(char::from_u32).collect();
    chars.extend([
        '\u{1680}',
        '\u{180e}',
        '\u{2000}',
        '\u{200a}',
        '\u{200b}',
        '\u{2028}',
        '\u{2029}',
        '\u{202f}',
        '\u{205f}',
        '\u{3000}',
        '\u{feff}',
        'é',
        'Ж',
        '✓',
        '\u{10ffff}',
    ]);
    chars
}

fn random_strings(alphabet: &[char], seed: u64, count: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let len = rng.random_range(0..14);
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        })
        .collect()
}

/// Whether the code may refuse more than the schema says (a rule the schema
/// states only in words), or must accept exactly what it accepts.
#[derive(Clone, Copy, PartialEq)]
enum Fit {
    Exact,
    CodeStricter,
}

/// The schema at `pointer` and `code` agree on every case and on random
/// strings over `alphabet`. Never may the code accept what the schema refuses.
fn agree(
    doc: &Yaml,
    pointer: &str,
    fit: Fit,
    code: impl Fn(&str) -> bool,
    cases: &[&str],
    alphabet: &str,
) {
    let rule = Rule::of(at(doc, pointer));
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut samples: Vec<String> = cases.iter().map(|s| s.to_string()).collect();
    samples.extend(random_strings(&alphabet, pointer.len() as u64, 3000));
    for v in samples {
        let (schema, code) = (rule.accepts(&v), code(&v));
        assert!(
            !code || schema,
            "{pointer}: the code accepts {v:?}, which the schema refuses"
        );
        if fit == Fit::Exact {
            assert!(
                code || !schema,
                "{pointer}: the code refuses {v:?}, which the schema accepts"
            );
        }
    }
}

#[test]
fn the_shared_character_rules_are_the_codes_rules() {
    let doc = openapi();
    let rules = &doc["x-string-rules"];
    let text = compile(rules["text"].as_str().expect("text"));
    let lines = compile(rules["lines"].as_str().expect("lines"));
    let visible = compile(rules["visible"].as_str().expect("visible"));
    let url = rules["url"].as_str().expect("url");
    let git_ref = compile(rules["git_ref"].as_str().expect("git_ref"));
    for c in interesting_chars() {
        for v in [
            format!("{c}"),
            format!("a{c}"),
            format!("{c}b"),
            format!("a{c}b"),
            format!("{c}{c}"),
        ] {
            assert_eq!(
                text.is_match(&v),
                validate::text(&v, 1, 100).is_ok(),
                "text {v:?}"
            );
            assert_eq!(
                lines.is_match(&v),
                validate::lines(&v, 1, 100).is_ok(),
                "lines {v:?}"
            );
            assert_eq!(visible.is_match(&v), validate::visible(&v), "visible {v:?}");
        }
        let inner = format!("a{c}b");
        assert_eq!(
            git_ref.is_match(&inner),
            fields::git_ref(&inner).is_ok(),
            "git ref {inner:?}"
        );
    }
    // A URL's characters are the visible ones.
    let visible_class = rules["visible"]
        .as_str()
        .unwrap()
        .trim_start_matches('^')
        .trim_end_matches("*$");
    assert!(
        url.contains(visible_class),
        "url and visible use one class: {url}"
    );
}

#[test]
fn vendor_and_field_patterns_are_the_codes_rules() {
    let doc = openapi();
    let settings = "components/schemas/SettingsUpdate/properties";
    let ok = |r: Result<(), String>| r.is_ok();
    agree(
        &doc,
        &format!("{settings}/slack_channel_override"),
        Fit::Exact,
        |v| ok(fields::slack_channel(v)),
        &[
            "#finops-alerts",
            "C0123456789",
            "#Ops",
            "C01",
            "#",
            "U12345678901234567890",
            "U123456789012345678901",
        ],
        "#CGUabz019_-A ",
    );
    agree(
        &doc,
        &format!("{settings}/jira_project_key"),
        Fit::Exact,
        |v| ok(fields::jira_project_key(v)),
        &[
            "OPS",
            "A1_B",
            "ops",
            "O",
            "1OPS",
            "ABCDEFGHIJ",
            "ABCDEFGHIJK",
        ],
        "ABZ09_a-",
    );
    agree(
        &doc,
        &format!("{settings}/workflow_github_owner"),
        Fit::Exact,
        |v| ok(fields::github_owner(v)),
        &[
            "acme",
            "a-c-me",
            "..",
            "-acme",
            "acme-",
            "a--b",
            &"a".repeat(39),
            &"a".repeat(40),
        ],
        "aZ09-._",
    );
    agree(
        &doc,
        &format!("{settings}/workflow_github_repo"),
        Fit::Exact,
        |v| ok(fields::github_repo(v)),
        &["infra", ".github", "..", ".", "a/b", &"a".repeat(101)],
        "aZ09-._/",
    );
    agree(
        &doc,
        &format!("{settings}/workflow_github_workflow_id"),
        Fit::Exact,
        |v| ok(fields::github_workflow_id(v)),
        &["deploy.yml", "ci.yaml", "123", ".yml", "a.yml.yml", "..yml"],
        "ayml.0-_/",
    );
    agree(
        &doc,
        &format!("{settings}/workflow_gitlab_project_id"),
        Fit::Exact,
        |v| ok(fields::gitlab_project(v)),
        &[
            "42",
            "group/project",
            "g/sub/p.x",
            "project",
            "group/../x",
            "g/.x",
            "/p",
            "g//p",
            "_a/_b",
        ],
        "ag0_.-/",
    );
    agree(
        &doc,
        &format!("{settings}/jira_api_token"),
        Fit::Exact,
        |v| ok(fields::secret(v)),
        &["abcdefgh", "abc defgh", "abcdefg\n"],
        "ab \t\u{3000}1",
    );
    agree(
        &doc,
        "components/schemas/NewTenant/properties/id",
        Fit::Exact,
        |v| ok(validate::tenant_id(v)),
        &["acme", "a", "-a", "a-", "Acme"],
        "az09-A_",
    );
    agree(
        &doc,
        "components/schemas/Decimal",
        Fit::Exact,
        remediation::decimal_text,
        &["0", "120.50", "-3.1", "1e5", "+1", " 1", "1.", ".5"],
        "09.-+e ",
    );
    agree(
        &doc,
        "components/schemas/RemediationInput/properties/account_id",
        Fit::Exact,
        |v| ok(remediation::account_id(v)),
        &["123456789012", "my-proj:x/y", "a b"],
        "aZ09-_.:/ @",
    );
    agree(
        &doc,
        "components/schemas/RemediationInput/properties/region",
        Fit::Exact,
        |v| ok(remediation::region(v)),
        &["eu-west-1", "westeurope", "eu west"],
        "aZ09-_ .",
    );
    // A provider is a case-insensitive membership, and an email's domain
    // must not start or end with a dot: rules the patterns state only in part.
    agree(
        &doc,
        "components/schemas/RemediationInput/properties/provider",
        Fit::CodeStricter,
        |v| ok(remediation::provider(v)),
        &["aws", "AWS", "Azure", " aws"],
        "awsgcp ",
    );
    agree(
        &doc,
        "components/schemas/Email",
        Fit::CodeStricter,
        |v| ok(validate::email(v)),
        &["a@b.io", "a@b", "a b@c.io", "a@b@c.io", "a@.io", "a@b.io."],
        "ab@. \u{0}",
    );
}

#[test]
fn header_patterns_are_the_codes_rules() {
    let doc = openapi();
    let settings_put =
        &doc["paths"]["/api/v1/settings/notifications"]["put"]["parameters"][0]["schema"];
    let rule = Rule::of(settings_put);
    for v in [
        "\"3\"",
        "W/\"3\"",
        "3",
        "\"3",
        "W/W/\"3\"",
        "+3",
        "\"\"",
        "",
        "W/3",
        "\"18446744073709551615\"",
    ] {
        assert_eq!(
            rule.accepts(v),
            validate::etag_version(v).is_some(),
            "If-Match {v:?}"
        );
    }
    let capture = &doc["paths"]["/api/v1/settings/notifications/acceptance-evidence/capture"]["post"]
        ["parameters"][0]["schema"];
    let rule = Rule::of(capture);
    for v in [
        "k1",
        "",
        "a b",
        "é",
        &"x".repeat(128),
        &"x".repeat(129),
        "a\u{7f}",
    ] {
        assert_eq!(
            rule.accepts(v),
            idempotency::valid_key(v),
            "Idempotency-Key {v:?}"
        );
    }
}
