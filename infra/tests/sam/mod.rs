//! The SAM-transformed template, offline: `infra/template-transform.py` run
//! with the samtranslator that `infra/lint-template.sh` installs, and a small
//! evaluator of the intrinsic functions the template uses, so a test can see
//! what CloudFormation would (a Version's resolved Description, a policy's
//! actions) for given parameter values.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn python() -> PathBuf {
    let tools = std::env::var_os("VALDRIX_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".valdrix-tools"));
    let python = tools.join("sam-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run infra/lint-template.sh (infra/test-all does) to install the SAM translator",
        python.display()
    );
    python
}

/// Parameters every transform gets unless a test overrides them.
pub fn base_params() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("Environment", "production".to_owned()),
        (
            "RuntimeSecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:valdrix-runtime-AbCdEf"
                .to_owned(),
        ),
        (
            "RuntimeSecretVersion",
            "0b5f4c8e-1a2b-4c3d-9e8f-7a6b5c4d3e2f".to_owned(),
        ),
        ("RuntimeSecretKmsKeyArn", String::new()),
        ("CorsOrigins", "https://app.example.com".to_owned()),
        ("LogRetentionDays", "90".to_owned()),
        ("ReservedConcurrency", "0".to_owned()),
        ("ApiThrottleRate", "50".to_owned()),
        ("ApiThrottleBurst", "100".to_owned()),
        ("AlarmEmail", String::new()),
    ])
}

/// The transformed template of `template_text` with `params`; `code` stands
/// for the built code's revision (a new one = new code).
pub fn transform(template_text: &str, params: &BTreeMap<&str, String>, code: &str) -> Template {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), template_text).expect("write template");
    let out = Command::new(python())
        .arg(root().join("infra/template-transform.py"))
        .arg(file.path())
        .args(params.iter().map(|(k, v)| format!("{k}={v}")))
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("CODE_REVISION", code)
        .output()
        .expect("run template-transform.py");
    assert!(
        out.status.success(),
        "the SAM transform failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("transform output is JSON");
    Template {
        doc,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

pub struct Template {
    pub doc: Value,
    pub params: BTreeMap<String, String>,
}

impl Template {
    pub fn resources(&self) -> &Map<String, Value> {
        self.doc["Resources"].as_object().expect("Resources")
    }

    pub fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.resources()
            .iter()
            .filter(move |(_, r)| r["Type"] == ty)
    }

    fn condition(&self, name: &str) -> bool {
        let c = &self.doc["Conditions"][name];
        self.truth(c)
    }

    fn truth(&self, c: &Value) -> bool {
        if let Some(args) = c.get("Fn::Not") {
            return !self.truth(&args[0]);
        }
        if let Some(args) = c.get("Fn::Equals") {
            return self.eval(&args[0]) == self.eval(&args[1]);
        }
        if let Some(name) = c.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        panic!("unsupported condition {c}")
    }

    /// `value` with every intrinsic resolved as CloudFormation would; a
    /// resource reference stays a placeholder (`<Ref X>`, `<X.Attr>`), and a
    /// property whose value is `AWS::NoValue` is dropped.
    pub fn eval(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.eval(v))
                    .filter(|v| *v != json!("<NoValue>"))
                    .collect(),
            ),
            Value::Object(map) if map.len() == 1 => {
                let (k, arg) = map.iter().next().expect("one key");
                match k.as_str() {
                    "Ref" => self.reference(arg.as_str().expect("Ref name")),
                    "Fn::GetAtt" => {
                        let parts: Vec<String> = match arg {
                            Value::Array(a) => a
                                .iter()
                                .map(|p| self.eval(p).as_str().unwrap_or("?").to_owned())
                                .collect(),
                            Value::String(s) => s.split('.').map(str::to_owned).collect(),
                            _ => panic!("GetAtt {arg}"),
                        };
                        json!(format!("<{}>", parts.join(".")))
                    }
                    "Fn::Sub" => self.sub(arg),
                    "Fn::Join" => {
                        let sep = arg[0].as_str().expect("Join separator");
                        let items = self.eval(&arg[1]);
                        let texts: Vec<String> = items
                            .as_array()
                            .expect("Join list")
                            .iter()
                            .map(|v| v.as_str().expect("Join item").to_owned())
                            .collect();
                        json!(texts.join(sep))
                    }
                    "Fn::Split" => {
                        let sep = arg[0].as_str().expect("Split separator");
                        let text = self.eval(&arg[1]);
                        json!(
                            text.as_str()
                                .expect("Split text")
                                .split(sep)
                                .collect::<Vec<_>>()
                        )
                    }
                    "Fn::Select" => {
                        let i = self.eval(&arg[0]);
                        let i = i
                            .as_u64()
                            .or_else(|| i.as_str().and_then(|s| s.parse().ok()));
                        let list = self.eval(&arg[1]);
                        list.get(i.expect("Select index") as usize)
                            .cloned()
                            .unwrap_or_else(|| panic!("Select {i:?} out of {list}"))
                    }
                    "Fn::If" => {
                        let branch = if self.condition(arg[0].as_str().expect("If condition")) {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.eval(branch)
                    }
                    _ => {
                        Value::Object(map.iter().map(|(k, v)| (k.clone(), self.eval(v))).collect())
                    }
                }
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.eval(v)))
                    .filter(|(_, v)| *v != json!("<NoValue>"))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn reference(&self, name: &str) -> Value {
        if let Some(v) = self.params.get(name) {
            return match self.doc["Parameters"][name]["Type"].as_str() {
                Some("CommaDelimitedList") => json!(v.split(',').collect::<Vec<_>>()),
                _ => json!(v),
            };
        }
        match name {
            "AWS::NoValue" => json!("<NoValue>"),
            "AWS::Region" => json!("us-east-1"),
            "AWS::AccountId" => json!("123456789012"),
            "AWS::Partition" => json!("aws"),
            "AWS::URLSuffix" => json!("amazonaws.com"),
            "AWS::StackName" => json!("valdrix"),
            _ => match self.doc["Parameters"][name]["Default"].clone() {
                Value::Null => json!(format!("<Ref {name}>")),
                Value::Number(n) => json!(n.to_string()),
                d => d,
            },
        }
    }

    fn sub(&self, arg: &Value) -> Value {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) => (
                a[0].as_str().expect("Sub text"),
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            _ => panic!("Sub {arg}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find('}').expect("closing brace") + at;
            let name = &rest[at + 2..end];
            let value = match vars.get(name) {
                Some(v) => self.eval(v),
                None if name.contains('.') => json!(format!("<{name}>")),
                None => self.reference(name),
            };
            out.push_str(
                value
                    .as_str()
                    .unwrap_or_else(|| panic!("Sub ${{{name}}} = {value}")),
            );
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        json!(out)
    }
}
