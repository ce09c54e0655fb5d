//! The first rollout's operator commands end to end, with the real binary:
//! `valdrix runtime-secret` writes the secret from an env file that passes
//! the contract (and refuses one that does not); that secret in moto's
//! Secrets Manager, pinned to its version, with only what the template sets
//! in env, passes the contract; `valdrix migrate` and `valdrix smoke` take
//! the stack's outputs file.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use aws_sdk_secretsmanager::Client;
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use valdrix_tests::{dynamodb_endpoint, emulator_endpoint, unique};
use yaml_rust2::YamlLoader;

const SECRETS: [&str; 6] = [
    "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY",
    "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc",
    "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt",
    "adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vBn",
    "gsk_live_9f8e7d6c5b4a3f2e1d0c",
    "sk_live_4f3e2d1c0b9a8f7e6d5c",
];

/// A production env file as the operator keeps it: every variable.
fn prod_env(jwt: &str) -> String {
    let expiry = (Utc::now() + Duration::hours(100)).to_rfc3339();
    format!(
        "ENVIRONMENT=production\nDATABASE_URL=dynamodb://valdrix-prod\nSUPABASE_JWT_SECRET={jwt}\n\
         ENCRYPTION_KEY={}\nCSRF_SECRET_KEY={}\nADMIN_API_KEY={}\n\
         KDF_SALT=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nLLM_PROVIDER=groq\nGROQ_API_KEY={}\n\
         PAYSTACK_SECRET_KEY={}\nPAYSTACK_PUBLIC_KEY=pk_live_1a2b3c4d5e6f\n\
         CORS_ORIGINS='[\"https://app.valdrix.io\"]'\nSAAS_STRICT_INTEGRATIONS=true\n\
         FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK=true\nFORECASTER_BREAK_GLASS_REASON='INC-4211 prophet wheel'\n\
         FORECASTER_BREAK_GLASS_EXPIRES_AT={expiry}\nNOT_A_CONTRACT_VARIABLE=x\n",
        SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[4], SECRETS[5]
    )
}

fn valdrix(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args(args)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("run valdrix")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The contract variables template.yaml sets for every function (the rest
/// are empty placeholders the secret fills).
fn template_set() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let doc = &YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap()).unwrap()[0];
    doc["Globals"]["Function"]["Environment"]["Variables"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.as_str() != Some(""))
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .filter(|k| {
            valdrix_shared::config::vars::KNOWN
                .iter()
                .any(|v| v.name == k)
        })
        .collect()
}

/// Write the secret JSON from `env_text`; (exit code, output, written JSON).
fn runtime_secret(env_text: &str) -> (Option<i32>, String, Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("prod.env");
    std::fs::write(&env_file, env_text).unwrap();
    let out_file = dir.path().join("secret.json");
    let out = valdrix(
        &[
            "runtime-secret",
            "--env-file",
            env_file.to_str().unwrap(),
            "--environment",
            "production",
            "--output",
            out_file.to_str().unwrap(),
        ],
        &[],
    );
    let written = std::fs::read_to_string(&out_file).ok().map(|t| {
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the secret file is owner-only");
        serde_json::from_str(&t).unwrap()
    });
    (out.status.code(), text(&out), written)
}

#[test]
fn runtime_secret_writes_what_the_template_does_not_set_and_prints_no_value() {
    let (code, output, written) = runtime_secret(&prod_env(SECRETS[0]));
    assert_eq!(code, Some(0), "{output}");
    let secret = written.expect("the file was written");
    let keys: BTreeSet<String> = secret.as_object().unwrap().keys().cloned().collect();
    let set_by_template = template_set();
    assert_eq!(
        set_by_template,
        [
            "CORS_ORIGINS",
            "DATABASE_URL",
            "ENVIRONMENT",
            "VALDRIX_RUNTIME_SECRET_ARN",
            "VALDRIX_RUNTIME_SECRET_VERSION"
        ]
        .map(String::from)
        .into(),
    );
    assert!(keys.is_disjoint(&set_by_template), "{keys:?}");
    assert!(!keys.contains("NOT_A_CONTRACT_VARIABLE"));
    assert_eq!(secret["SUPABASE_JWT_SECRET"], SECRETS[0]);
    assert_eq!(
        secret["FORECASTER_BREAK_GLASS_REASON"],
        "INC-4211 prophet wheel"
    );
    for s in SECRETS {
        assert!(!output.contains(s), "output leaks a secret: {output}");
    }
    assert!(
        output.contains("variables=") && output.contains("SUPABASE_JWT_SECRET"),
        "{output}"
    );
}

#[test]
fn runtime_secret_refuses_an_env_file_that_breaks_the_contract() {
    let weak = "short-jwt-secret";
    let (code, output, written) = runtime_secret(&prod_env(weak));
    assert_eq!(code, Some(1), "{output}");
    assert!(written.is_none(), "nothing is written");
    assert!(output.contains("runtime_secret_refused"), "{output}");
    assert!(output.contains("\nSUPABASE_JWT_SECRET: "), "{output}");
    assert!(
        !output.contains(weak),
        "the value is never printed: {output}"
    );
}

async fn moto_client(endpoint: &str) -> Client {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await;
    Client::new(&cfg)
}

#[tokio::test]
async fn the_written_secret_pinned_to_its_version_passes_with_only_the_templates_env() {
    let endpoint = emulator_endpoint(
        "VALDRIX_TEST_MOTO_ENDPOINT",
        "moto (Secrets Manager emulator)",
    );
    let (_, _, written) = runtime_secret(&prod_env(SECRETS[0]));
    let client = moto_client(&endpoint).await;
    let created = client
        .create_secret()
        .name(unique("valdrix/runtime"))
        .secret_string(written.unwrap().to_string())
        .send()
        .await
        .expect("create secret in moto");
    let (arn, first) = (created.arn.unwrap(), created.version_id.unwrap());
    // A later value that breaks the contract: the pinned version is still read.
    let second = client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(json!({"SUPABASE_JWT_SECRET": "weak"}).to_string())
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();

    let validate = |version: &str| {
        valdrix(
            &["validate-runtime-env"],
            &[
                ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                // What template.yaml sets, nothing more.
                ("ENVIRONMENT", "production"),
                ("DATABASE_URL", "dynamodb://valdrix-prod"),
                ("CORS_ORIGINS", r#"["https://app.valdrix.io"]"#),
                ("VALDRIX_RUNTIME_SECRET_ARN", arn.as_str()),
                ("VALDRIX_RUNTIME_SECRET_VERSION", version),
            ],
        )
    };
    let pinned = validate(&first);
    assert_eq!(pinned.status.code(), Some(0), "{}", text(&pinned));
    let newer = validate(&second);
    assert_eq!(newer.status.code(), Some(1), "{}", text(&newer));
    assert!(
        text(&newer).contains("\nSUPABASE_JWT_SECRET: "),
        "{}",
        text(&newer)
    );
}

/// `aws cloudformation describe-stacks --query "Stacks[0].Outputs"`.
fn outputs_file(dir: &std::path::Path, table: &str, api: &str) -> std::path::PathBuf {
    let path = dir.join("outputs.json");
    let outputs = json!([
        {"OutputKey": "ApiUrl", "OutputValue": api, "Description": "Base URL of the HTTP API"},
        {"OutputKey": "TableName", "OutputValue": table},
        {"OutputKey": "IngestBucketName", "OutputValue": "valdrix-ingest-123456789012"},
    ]);
    std::fs::write(&path, outputs.to_string()).unwrap();
    path
}

#[test]
fn migrate_and_smoke_take_the_stacks_outputs() {
    let table = unique("outputs");
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here: the smoke's first step fails to connect.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let outputs = outputs_file(dir.path(), &table, &api);
    let local = format!(
        "dynamodb://{table}?endpoint={}&region=us-east-1",
        dynamodb_endpoint()
    );
    let aws = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    // The stack made the table; here DynamoDB Local stands in for it.
    let created = valdrix(&["migrate", "--database-url", &local], &aws);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created));

    let endpoint = dynamodb_endpoint();
    let mut env = aws.to_vec();
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()));
    let migrated = valdrix(
        &["migrate", "--stack-outputs", outputs.to_str().unwrap()],
        &env,
    );
    let out = text(&migrated);
    assert_eq!(migrated.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("table {table}: managed by template.yaml")),
        "{out}"
    );
    assert!(
        out.contains("migration 0001-smoke-tenant: already applied"),
        "{out}"
    );

    let report = dir.path().join("smoke.json");
    let smoke = valdrix(
        &[
            "smoke",
            "--stack-outputs",
            outputs.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(smoke.status.code(), Some(1), "{}", text(&smoke));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["base_url"], api.as_str(), "{report}");

    let missing = dir.path().join("other.json");
    std::fs::write(&missing, "[]").unwrap();
    let refused = valdrix(
        &["migrate", "--stack-outputs", missing.to_str().unwrap()],
        &env,
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused).contains("has no TableName output"),
        "{}",
        text(&refused)
    );
}

/// A dead delivery as the dispatcher leaves it: in the table and, as a
/// message, in the dead-letter queue.
fn dead_delivery(event_id: &str) -> valdrix_shared::policy::Delivery {
    let attempts: Vec<Value> = (1..=5)
        .map(|n| {
            json!({"number": n, "at": "2026-11-27T08:00:00Z", "outcome": "retryable_failure",
                        "status_code": 503, "latency_ms": 12, "detail": "503 from the receiver"})
        })
        .collect();
    serde_json::from_value(json!({
        "delivery_id": format!("{event_id}:webhook"), "event_id": event_id,
        "tenant_id": valdrix_shared::tenancy::SMOKE_TENANT_ID, "channel": "webhook",
        "target": "hooks.example.com", "status": "dead", "attempts": attempts,
        "due_at": null, "external_id": null, "claims": 5,
    }))
    .unwrap()
}

#[tokio::test]
async fn redrive_deliveries_consumes_the_dead_letter_queue() {
    use valdrix_shared::policy::{DeliveryStatus, delivery_sk, event_pk};
    use valdrix_shared::store::codec::{from_item, to_item};

    let moto = emulator_endpoint("VALDRIX_TEST_MOTO_ENDPOINT", "moto (SQS emulator)");
    let table = unique("redrive");
    let local = format!(
        "dynamodb://{table}?endpoint={}&region=us-east-1",
        dynamodb_endpoint()
    );
    let aws = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let migrated = valdrix(&["migrate", "--database-url", &local], &aws);
    assert_eq!(migrated.status.code(), Some(0), "{}", text(&migrated));
    let url =
        valdrix_shared::config::parse_store_url(&local, &valdrix_shared::config::VarSet::default())
            .unwrap();
    let store = valdrix_shared::store::open(&url).await.unwrap();
    let event_id = unique("evt");
    let delivery = dead_delivery(&event_id);
    let (pk, sk) = (event_pk(&event_id), delivery_sk(delivery.channel));
    store
        .put(
            to_item(&pk, &sk, 1, &delivery),
            valdrix_shared::store::Condition::NotExists,
        )
        .await
        .unwrap();

    let sqs_config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .endpoint_url(&moto)
        .build();
    let sqs = aws_sdk_sqs::Client::from_conf(sqs_config);
    let queue = sqs
        .create_queue()
        .queue_name(unique("dead"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for body in [
        serde_json::to_string(&delivery).unwrap(),
        "not a delivery".to_owned(),
    ] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("outputs.json");
    std::fs::write(
        &outputs,
        json!([{"OutputKey": "TableName", "OutputValue": table},
               {"OutputKey": "DeliveryDeadLetterQueueUrl", "OutputValue": queue}])
        .to_string(),
    )
    .unwrap();
    let endpoint = dynamodb_endpoint();
    let mut env = aws.to_vec();
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()));
    env.push(("AWS_ENDPOINT_URL_SQS", moto.as_str()));
    let run = valdrix(
        &[
            "redrive-deliveries",
            "--stack-outputs",
            outputs.to_str().unwrap(),
        ],
        &env,
    );
    let out = text(&run);
    // The message that is not a delivery stays for a person: exit 1.
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("redriven {event_id}:webhook")),
        "{out}"
    );
    assert!(out.contains("not a dead delivery"), "{out}");

    let item = store.get(&pk, &sk).await.unwrap().unwrap();
    let (redriven, version): (valdrix_shared::policy::Delivery, u64) = from_item(&item).unwrap();
    assert_eq!((redriven.status, version), (DeliveryStatus::Retrying, 2));
    assert_eq!(redriven.redriven_after, 5);
    assert!(redriven.due_at.is_some());

    // Only the unreadable message is left (it comes back after its 60 s visibility).
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let count =
        |name: aws_sdk_sqs::types::QueueAttributeName| attributes[&name].parse::<u32>().unwrap();
    assert_eq!(
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
        0
    );
    assert_eq!(
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        1
    );
}
