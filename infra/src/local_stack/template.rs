//! What template.yaml deploys, read from its SAM transform (`infra/sam-transform.py`):
//! the functions (Globals merged), the HTTP API's routes, the stream's event
//! source mapping, the schedules, the bucket notifications and the CodeDeploy
//! hook. Nothing here names a function or a route: a template change is served
//! as it is, or refused with a message saying what the local stack lacks.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The transformed template and each function's `CodeUri`, by logical id.
pub struct Transformed {
    pub template: Value,
    pub code_uris: BTreeMap<String, String>,
}

/// Runs the SAM transform with the sam-venv python.
pub fn transform(python: &Path, template: &Path) -> Result<Transformed, String> {
    let root = template.parent().unwrap_or(Path::new("."));
    let script = root.join("infra/sam-transform.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(template)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .map_err(|e| {
            format!(
                "cannot run the SAM transform with {} ({e}); install it with infra/lint-template.sh",
                python.display()
            )
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "the SAM transform of {} failed: {}",
            template.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    parse(&out.stdout)
}

pub fn parse(json: &[u8]) -> Result<Transformed, String> {
    let mut doc: Value =
        serde_json::from_slice(json).map_err(|e| format!("the SAM transform's output: {e}"))?;
    let code_uris = serde_json::from_value(doc["code_uris"].take())
        .map_err(|e| format!("the SAM transform's code_uris: {e}"))?;
    Ok(Transformed {
        template: doc["template"].take(),
        code_uris,
    })
}

/// One HTTP API route and the function behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper case, or `ANY`.
    pub method: String,
    /// With `{param}` and `{proxy+}` segments, as API Gateway reads them.
    pub path: String,
    pub function: String,
}

/// An event source mapping (its properties still unresolved): a DynamoDB
/// stream's, or an SQS queue's (`queue`: the queue's logical id).
pub struct SourceMapping {
    pub id: String,
    pub function: String,
    pub queue: Option<String>,
    pub properties: Value,
}

pub struct Schedule {
    pub id: String,
    pub expression: String,
    pub functions: Vec<String>,
}

/// S3 → Lambda notification of a bucket.
pub struct BucketNotification {
    pub bucket: String,
    pub event: String,
    /// `Filter` as the template gives it (`S3Key.Rules`).
    pub filter: Value,
    pub function: String,
}

impl Transformed {
    pub fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.template["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(id, r)| (id.as_str(), r))
    }

    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.resources()
            .filter(move |(_, r)| r["Type"].as_str() == Some(kind))
    }

    pub fn resource(&self, id: &str) -> &Value {
        &self.template["Resources"][id]
    }

    /// The function (logical id) a `Ref`, or an ARN `Fn::Sub`, points at: a
    /// function or one of its aliases.
    pub fn function_of(&self, value: &Value) -> Option<String> {
        let names: Vec<String> = match value {
            Value::Object(m) if m.contains_key("Ref") => {
                vec![m["Ref"].as_str()?.to_owned()]
            }
            Value::Object(m) if m.contains_key("Fn::Sub") => {
                let text = match &m["Fn::Sub"] {
                    Value::String(s) => s.as_str(),
                    Value::Array(a) => a.first()?.as_str()?,
                    _ => return None,
                };
                text.split("${")
                    .skip(1)
                    .filter_map(|s| s.split('}').next())
                    .map(str::to_owned)
                    .collect()
            }
            _ => return None,
        };
        names.iter().find_map(|name| {
            let resource = self.resource(name);
            match resource["Type"].as_str()? {
                "AWS::Lambda::Function" => Some(name.clone()),
                "AWS::Lambda::Alias" => self.function_of(&resource["Properties"]["FunctionName"]),
                _ => None,
            }
        })
    }

    /// Every route of every HTTP API, or what is wrong with them.
    pub fn routes(&self) -> (Vec<Route>, Vec<String>) {
        let (mut routes, mut problems) = (Vec::new(), Vec::new());
        for (api, resource) in self.of_type("AWS::ApiGatewayV2::Api") {
            let Some(paths) = resource["Properties"]["Body"]["paths"].as_object() else {
                problems.push(format!("{api}: no OpenAPI body with paths"));
                continue;
            };
            for (path, item) in paths {
                for (method, op) in item.as_object().into_iter().flatten() {
                    let method = match method.as_str() {
                        "x-amazon-apigateway-any-method" => "ANY".to_owned(),
                        m if m.starts_with("x-") || m == "parameters" => continue,
                        m => m.to_ascii_uppercase(),
                    };
                    let integration = &op["x-amazon-apigateway-integration"];
                    let version = integration["payloadFormatVersion"].as_str();
                    match self.function_of(&integration["uri"]) {
                        Some(_) if version != Some("2.0") => problems.push(format!(
                            "route {method} {path}: payload format {version:?}, the local stack speaks 2.0"
                        )),
                        Some(function) => routes.push(Route {
                            method,
                            path: path.clone(),
                            function,
                        }),
                        None => problems.push(format!(
                            "route {method} {path} has no function behind it"
                        )),
                    }
                }
            }
        }
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        (routes, problems)
    }

    /// The HTTP API's CORS configuration (`x-amazon-apigateway-cors`), if any.
    pub fn cors(&self) -> Option<&Value> {
        self.of_type("AWS::ApiGatewayV2::Api")
            .map(|(_, r)| &r["Properties"]["Body"]["x-amazon-apigateway-cors"])
            .find(|c| c.is_object())
    }

    pub fn source_mappings(&self) -> Vec<SourceMapping> {
        self.of_type("AWS::Lambda::EventSourceMapping")
            .filter_map(|(id, r)| {
                let props = &r["Properties"];
                let queue = props["EventSourceArn"]["Fn::GetAtt"][0]
                    .as_str()
                    .filter(|q| self.resource(q)["Type"] == "AWS::SQS::Queue")
                    .map(str::to_owned);
                Some(SourceMapping {
                    id: id.to_owned(),
                    function: self.function_of(&props["FunctionName"])?,
                    queue,
                    properties: props.clone(),
                })
            })
            .collect()
    }

    pub fn schedules(&self) -> Vec<Schedule> {
        self.of_type("AWS::Events::Rule")
            .filter_map(|(id, r)| {
                let props = &r["Properties"];
                let expression = props["ScheduleExpression"].as_str()?.to_owned();
                let functions = props["Targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| self.function_of(&t["Arn"]))
                    .collect();
                Some(Schedule {
                    id: id.to_owned(),
                    expression,
                    functions,
                })
            })
            .collect()
    }

    pub fn bucket_notifications(&self) -> Vec<BucketNotification> {
        let mut out = Vec::new();
        for (bucket, r) in self.of_type("AWS::S3::Bucket") {
            let configs = &r["Properties"]["NotificationConfiguration"]["LambdaConfigurations"];
            for c in configs.as_array().into_iter().flatten() {
                if let (Some(event), Some(function)) =
                    (c["Event"].as_str(), self.function_of(&c["Function"]))
                {
                    out.push(BucketNotification {
                        bucket: bucket.to_owned(),
                        event: event.to_owned(),
                        filter: c["Filter"].clone(),
                        function,
                    });
                }
            }
        }
        out
    }

    /// The functions' logical ids and the crate (`functions/<crate>`) each is built from.
    pub fn functions(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let (mut out, mut problems) = (BTreeMap::new(), Vec::new());
        for (id, _) in self.of_type("AWS::Lambda::Function") {
            match self
                .code_uris
                .get(id)
                .and_then(|uri| uri.strip_prefix("functions/"))
            {
                Some(name) => {
                    out.insert(id.to_owned(), name.trim_end_matches('/').to_owned());
                }
                None => problems.push(format!("{id}: CodeUri is not functions/<crate>")),
            }
        }
        (out, problems)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// template.yaml through the real SAM transform (installed by infra/lint-template.sh).
    pub fn transformed() -> Transformed {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join(".valdrix-tools/sam-venv/bin/python");
        assert!(
            python.is_file(),
            "{} is missing: run infra/lint-template.sh once (it installs the SAM CLI)",
            python.display()
        );
        transform(&python, &root.join("template.yaml")).unwrap()
    }

    #[test]
    fn every_route_and_event_source_of_the_template_has_its_function() {
        let t = transformed();
        let (functions, problems) = t.functions();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(functions.len(), 12, "{functions:?}");
        assert_eq!(functions["HealthFunction"], "health");
        let (routes, problems) = t.routes();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(routes.contains(&Route {
            method: "GET".into(),
            path: "/api/v1/admin/tenants/{tenant_id}".into(),
            function: "AdminFunction".into(),
        }));
        let mappings: Vec<(String, Option<String>)> = t
            .source_mappings()
            .into_iter()
            .map(|m| (m.function, m.queue))
            .collect();
        assert!(mappings.contains(&("NotificationDispatcherFunction".into(), None)));
        assert!(mappings.contains(&("EvidenceDailyFunction".into(), Some("DailyRunQueue".into()))));
        assert!(mappings.contains(&("CostIngestFunction".into(), Some("CostIngestQueue".into()))));
        let schedules: Vec<(String, Vec<String>)> = t
            .schedules()
            .into_iter()
            .map(|s| (s.expression, s.functions))
            .collect();
        assert!(schedules.contains(&(
            "rate(1 minute)".into(),
            vec!["NotificationDispatcherFunction".into()]
        )));
        let notes = t.bucket_notifications();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            (notes[0].bucket.as_str(), notes[0].function.as_str()),
            ("IngestBucket", "CostIngestFunction")
        );
    }

    #[test]
    fn a_route_with_no_function_behind_it_is_named() {
        let mut t = transformed();
        let paths = t.template["Resources"]["ServerlessHttpApi"]["Properties"]["Body"]["paths"]
            .as_object_mut()
            .unwrap();
        // A route whose integration names something that is not a function.
        paths.insert(
            "/api/v1/orphan".into(),
            serde_json::json!({"get": {"x-amazon-apigateway-integration": {
                "payloadFormatVersion": "2.0",
                "uri": {"Fn::Sub": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${Table}/invocations"},
            }}}),
        );
        let (_, problems) = t.routes();
        assert_eq!(
            problems,
            ["route GET /api/v1/orphan has no function behind it"]
        );
    }
}
