//! Least privilege per function: each function's role in the SAM-transformed
//! template (SAM's policy templates and destinations expanded, the shared
//! runtime-secret policy followed) allows exactly the actions of the table
//! its crate keeps next to its code (`functions/<crate>/iam.txt`), on named
//! resources. The crate's own tests refuse a store call outside that table
//! (valdrix_tests::iam_guard), so a new call fails there, and an action the
//! code no longer needs fails here once it leaves the table. A KMS key
//! policy that names a role grants it too (the audit signing key's).

mod sam;

use std::collections::{BTreeMap, BTreeSet};

use sam::{Template, base_params, read, transform};
use serde_json::Value;
use valdrix_tests::iam_guard::parse_table;

/// AWS managed policies a function role may carry: logging and tracing, no data.
const BASELINE: [(&str, &str); 2] = [
    (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "logs",
    ),
    ("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess", "xray"),
];

/// With a customer-managed key, so the conditional kms:Decrypt is in force.
fn transformed(text: &str) -> Template {
    let mut params = base_params();
    params.insert(
        "RuntimeSecretKmsKeyArn",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
    );
    transform(text, &params, "1")
}

fn tables() -> BTreeMap<String, BTreeSet<String>> {
    let dir = sam::root().join("functions");
    std::fs::read_dir(&dir)
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let table = read(&format!("functions/{name}/iam.txt"));
            (name, parse_table(&table))
        })
        .collect()
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The Allow statements of a role: its inline policies and the managed
/// policies defined in the template; the AWS managed ones it carries.
fn role_statements(t: &Template, role: &Value) -> (Vec<Value>, Vec<String>) {
    let props = t.eval(&role["Properties"]);
    let mut statements = Vec::new();
    for policy in as_list(&props["Policies"]) {
        statements.extend(as_list(&policy["PolicyDocument"]["Statement"]));
    }
    let mut aws_managed = Vec::new();
    for arn in as_list(&role["Properties"]["ManagedPolicyArns"]) {
        if let Some(id) = arn["Ref"].as_str() {
            let doc = t.eval(&t.resources()[id]["Properties"]["PolicyDocument"]);
            statements.extend(as_list(&doc["Statement"]));
        } else {
            aws_managed.push(t.eval(&arn).as_str().unwrap_or("?").to_owned());
        }
    }
    (statements, aws_managed)
}

/// The actions KMS key policies grant the role `role_id` by name (a key
/// policy's `Resource: "*"` is that key alone).
fn key_policy_actions(t: &Template, role_id: &str) -> BTreeSet<String> {
    let named = serde_json::json!({"Fn::GetAtt": [role_id, "Arn"]});
    let mut actions = BTreeSet::new();
    for (_, key) in t.of_type("AWS::KMS::Key") {
        for s in as_list(&key["Properties"]["KeyPolicy"]["Statement"]) {
            if s["Effect"] == "Allow" && as_list(&s["Principal"]["AWS"]).contains(&named) {
                actions.extend(
                    as_list(&s["Action"])
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_owned)),
                );
            }
        }
    }
    actions
}

/// Every difference between each function's role and its crate's table.
fn problems(t: &Template, tables: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, function) in t.of_type("AWS::Lambda::Function") {
        let code = function["Properties"]["Code"]["S3Key"]
            .as_str()
            .unwrap_or("?");
        let krate = code.split('/').next().unwrap_or("?");
        let Some(table) = tables.get(krate) else {
            problems.push(format!("{id}: functions/{krate}/iam.txt is missing"));
            continue;
        };
        let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or("?");
        let (statements, aws_managed) = role_statements(t, &t.resources()[role_id]);
        for arn in &aws_managed {
            if !BASELINE.iter().any(|(b, _)| b == arn) {
                problems.push(format!(
                    "{id}: carries {arn}, whose actions no table can account for"
                ));
            }
        }
        let mut allowed = key_policy_actions(t, role_id);
        for s in statements.iter().filter(|s| s["Effect"] == "Allow") {
            for action in as_list(&s["Action"]) {
                let action = action.as_str().unwrap_or("?").to_owned();
                if BASELINE
                    .iter()
                    .any(|(_, service)| action.starts_with(&format!("{service}:")))
                {
                    continue;
                }
                if action.contains('*') {
                    problems.push(format!("{id}: allows the wildcard action {action}"));
                }
                for resource in as_list(&s["Resource"]) {
                    if resource == "*" {
                        problems.push(format!("{id}: allows {action} on every resource"));
                    }
                }
                allowed.insert(action);
            }
        }
        for action in table.difference(&allowed) {
            problems.push(format!(
                "{id} ({krate}): its code needs {action}, which its policy does not allow"
            ));
        }
        for action in allowed.difference(table) {
            problems.push(format!(
                "{id} ({krate}): its policy allows {action}, which its code never uses"
            ));
        }
    }
    problems
}

#[test]
fn every_role_allows_exactly_what_its_code_needs() {
    let t = transformed(&read("template.yaml"));
    assert_eq!(t.of_type("AWS::Lambda::Function").count(), 12);
    assert_eq!(problems(&t, &tables()), Vec::<String>::new());
}

#[test]
fn a_call_the_policy_lacks_fails() {
    let t = transformed(&read("template.yaml"));
    let mut tables = tables();
    tables
        .get_mut("admin")
        .unwrap()
        .insert("dynamodb:BatchWriteItem".into());
    assert_eq!(
        problems(&t, &tables),
        [
            "AdminFunction (admin): its code needs dynamodb:BatchWriteItem, which its policy does not allow"
        ]
    );
}

#[test]
fn an_action_the_code_never_uses_fails() {
    let text = read("template.yaml");
    let health = text.find("CodeUri: functions/health").unwrap();
    let at = text[health..]
        .find("                - dynamodb:GetItem\n")
        .unwrap()
        + health;
    let wider = format!(
        "{}                - dynamodb:Scan\n{}",
        &text[..at],
        &text[at..]
    );
    assert_eq!(
        problems(&transformed(&wider), &tables()),
        ["HealthFunction (health): its policy allows dynamodb:Scan, which its code never uses"]
    );
}

#[test]
fn sams_stream_policy_and_wildcards_fail() {
    // SAM's poller policies allow every stream or queue in the account: the
    // dispatcher's and the daily run's own roles must not carry them.
    let text = read("template.yaml");
    let with_managed = |role: &str, policy: &str| {
        let at = text.find(&format!("  {role}:\n")).expect("the role");
        let xray = "        - !Sub arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess\n";
        let end = text[at..].find(xray).expect("its managed policies") + at + xray.len();
        format!(
            "{}        - !Sub arn:${{AWS::Partition}}:iam::aws:policy/service-role/{policy}\n{}",
            &text[..end],
            &text[end..]
        )
    };
    assert_eq!(
        problems(
            &transformed(&with_managed(
                "NotificationDispatcherRole",
                "AWSLambdaDynamoDBExecutionRole"
            )),
            &tables()
        ),
        [
            "NotificationDispatcherFunction: carries arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole, whose actions no table can account for"
        ]
    );
    assert_eq!(
        problems(
            &transformed(&with_managed(
                "EvidenceDailyRole",
                "AWSLambdaSQSQueueExecutionRole"
            )),
            &tables()
        ),
        [
            "EvidenceDailyFunction: carries arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole, whose actions no table can account for"
        ]
    );
    let star = text.replacen(
        "                Resource: !Sub ${Table.Arn}/stream/*\n",
        "                Resource: \"*\"\n",
        1,
    );
    let found = problems(&transformed(&star), &tables());
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found.iter().all(
            |p| p.starts_with("NotificationDispatcherFunction: allows dynamodb:")
                && p.ends_with("on every resource")
        ),
        "{found:#?}"
    );
}
