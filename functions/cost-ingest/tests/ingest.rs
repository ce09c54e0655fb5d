//! Cost files into the ledger: idempotence on both store backends, gzip,
//! restatements, rejected rows, and the S3 and queue triggers against moto.

use std::io::Write;

use cost_ingest::{Ingest, IngestQueue, Trigger, handle};
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::ledger::ingest::{Budget, IngestReport, MAX_COST, Pace, ingest};
use valdrix_shared::ledger::{LedgerRange, query_ledger, query_restatements};
use valdrix_shared::state::SharedState;
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Tier};
use valdrix_tests::{
    dynamo_store, focus_csv, focus_line, moto_endpoint, sqlite_store, state_with, unique,
};

async fn tenant(state: &SharedState) -> String {
    let id = unique("acme");
    tenancy::create_tenant(
        &state.audit,
        Some(id.clone()),
        "Acme",
        Tier::Pro,
        &ChangeContext {
            actor: Actor::AdminKey,
            request_id: None,
        },
    )
    .await
    .unwrap();
    id
}

fn sample(ec2_cost: &str, s3_lifecycle: &str) -> String {
    focus_csv(&[
        focus_line(
            ec2_cost,
            "2026-01-05T10:00:00Z",
            "2026-01-05T11:00:00Z",
            "Amazon Elastic Compute Cloud",
            "Compute",
            "i-0abc",
            r#"{"env":"prod"}"#,
            "final",
        ),
        focus_line(
            "0.10",
            "2026-01-05T10:00:00Z",
            "2026-01-05T11:00:00Z",
            "Amazon Simple Storage Service",
            "Storage",
            "bucket-a",
            "",
            s3_lifecycle,
        ),
        focus_line(
            "3.00",
            "2026-01-06T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "AWS Lambda",
            "Compute",
            "fn-a",
            "",
            "final",
        ),
    ])
}

async fn run(state: &SharedState, tenant: &str, bytes: Vec<u8>) -> IngestReport {
    ingest(
        &state.store,
        &state.audit,
        tenant,
        "test.csv",
        std::io::Cursor::new(bytes),
        Actor::System,
    )
    .await
    .unwrap()
}

const JANUARY: LedgerRange = LedgerRange {
    start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    end: chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
};

async fn ledger(state: &SharedState, tenant: &str) -> Vec<Value> {
    let (rows, next) = query_ledger(state.store.as_ref(), tenant, JANUARY, 1000, None)
        .await
        .unwrap();
    assert!(next.is_none());
    rows.into_iter()
        .map(|mut r| {
            r.ingest_run.clear();
            r.ingest_line = 0;
            serde_json::to_value(r).unwrap()
        })
        .collect()
}

async fn same_file_twice_gives_one_set_of_rows(store: DynStore) {
    let state = state_with(store);
    let t = tenant(&state).await;
    let first = run(&state, &t, sample("10.50", "preliminary").into_bytes()).await;
    assert_eq!((first.rows_read, first.inserted, first.rejected), (3, 3, 0));
    let rows = ledger(&state, &t).await;
    assert_eq!(rows.len(), 3);

    let second = run(&state, &t, sample("10.50", "preliminary").into_bytes()).await;
    assert_eq!(
        (
            second.inserted,
            second.unchanged,
            second.updated,
            second.restated
        ),
        (0, 3, 0, 0)
    );
    assert_eq!(ledger(&state, &t).await, rows);

    // The same content gzip-compressed maps to the same line ids.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(sample("10.50", "preliminary").as_bytes())
        .unwrap();
    let third = run(&state, &t, gz.finish().unwrap()).await;
    assert_eq!((third.inserted, third.unchanged), (0, 3));
    assert_eq!(ledger(&state, &t).await, rows);

    // A final row that changes is restated; a preliminary one is just updated.
    let fourth = run(&state, &t, sample("11.00", "final").into_bytes()).await;
    assert_eq!(
        (fourth.restated, fourth.updated, fourth.unchanged),
        (1, 1, 1)
    );
    let (restatements, _) = query_restatements(state.store.as_ref(), &t, JANUARY, 100, None)
        .await
        .unwrap();
    assert_eq!(restatements.len(), 1);
    let r = &restatements[0];
    assert_eq!(
        (r.old_billed_cost.to_string(), r.new_billed_cost.to_string()),
        ("10.50".into(), "11.00".into())
    );
    assert_eq!(r.delta_billed_cost.to_string(), "0.50");
    assert!(r.changed_fields.contains(&"billed_cost".to_string()));
    assert_eq!(ledger(&state, &t).await.len(), 3);

    // Every run is on the audit chain with its counts.
    let (events, _) = state.audit.page(&t, 10, None, true).await.unwrap();
    let ingests: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "cost.ingested")
        .collect();
    assert_eq!(ingests.len(), 4);
    assert_eq!(ingests[0].details["restated"], 1);
    assert!(state.audit.verify(&t).await.unwrap().is_ok());
}

#[tokio::test]
async fn same_file_twice_gives_one_set_of_rows_sqlite() {
    same_file_twice_gives_one_set_of_rows(sqlite_store().await).await;
}

#[tokio::test]
async fn same_file_twice_gives_one_set_of_rows_dynamodb() {
    same_file_twice_gives_one_set_of_rows(dynamo_store().await).await;
}

#[tokio::test]
async fn bad_rows_are_rejected_with_line_and_reason() {
    let state = state_with(sqlite_store().await);
    let t = tenant(&state).await;
    let good = focus_line(
        "1.00",
        "2026-01-05T10:00:00Z",
        "2026-01-05T11:00:00Z",
        "AWS Lambda",
        "Compute",
        "fn-a",
        "",
        "final",
    );
    let csv = focus_csv(&[
        good.clone(),
        good.replacen("1.00,1.00,1.00,1.00", "1.0O,1.00,1.00,1.00", 1),
        good.replace("2026-01-05T10:00:00Z", "soon"),
        good.replace(",Compute,", ",Computing,"),
        good.clone(),
    ]);
    let report = run(&state, &t, csv.into_bytes()).await;
    assert_eq!(
        (report.rows_read, report.inserted, report.rejected),
        (5, 1, 4)
    );
    let lines: Vec<_> = report.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(report.rejections[0].reason.contains("BilledCost"));
    assert!(report.rejections[1].reason.contains("ChargePeriodStart"));
    assert!(report.rejections[2].reason.contains("ServiceCategory"));
    assert!(report.rejections[3].reason.contains("duplicate"));

    // A file without the FOCUS columns is refused whole.
    let err = ingest(
        &state.store,
        &state.audit,
        &t,
        "bad.csv",
        std::io::Cursor::new(b"a,b\n1,2\n".to_vec()),
        Actor::System,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("BilledCost"), "{err}");
}

/// Costs beyond `MAX_COST` are rejected: two rows near `Decimal::MAX` in one
/// month used to be accepted, and the pack's month totals then overflowed.
#[tokio::test]
async fn costs_beyond_the_bound_are_rejected_not_summed_into_an_overflow() {
    let state = state_with(sqlite_store().await);
    let t = tenant(&state).await;
    let line = |cost: &str, resource: &str| {
        focus_line(
            cost,
            "2026-01-05T10:00:00Z",
            "2026-01-05T11:00:00Z",
            "AWS Lambda",
            "Compute",
            resource,
            "",
            "final",
        )
    };
    let max = MAX_COST.to_string();
    let huge = "79228162514264337593543950335";
    let csv = focus_csv(&[
        line(&max, "fn-max"),
        line(&format!("-{max}"), "fn-min"),
        line(huge, "fn-huge-1"),
        line(huge, "fn-huge-2"),
        line(&format!("{max}.01"), "fn-over"),
        // Only EffectiveCost out of range.
        line("1.00", "fn-effective").replacen("1.00,1.00", &format!("1.00,{huge}"), 1),
    ]);
    let report = run(&state, &t, csv.into_bytes()).await;
    assert_eq!((report.inserted, report.rejected), (2, 4), "{report:?}");
    let lines: Vec<_> = report.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, [4, 5, 6, 7]);
    for r in &report.rejections[..3] {
        assert!(
            r.reason.contains("BilledCost is out of range"),
            "{}",
            r.reason
        );
    }
    assert!(
        report.rejections[3]
            .reason
            .contains("EffectiveCost is out of range")
    );
}

#[tokio::test]
async fn s3_object_created_ingests_the_tenant_file_from_moto() {
    let state = state_with(sqlite_store().await);
    let t = tenant(&state).await;
    let s3 = moto_client().await;
    let bucket = unique("ingest").to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let key = format!("tenants/{t}/focus/2026-01/export part-1.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(sample("10.50", "final").as_bytes()).unwrap();
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(gz.finish().unwrap().into())
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().trim_matches('"').to_owned();

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/s3-cost-ingest.json"
    ))
    .unwrap()
    .replace("REPLACE_WITH_BUCKET", &bucket)
    .replace("0123456789abcdef0123456789abcdef", &etag)
    .replace(
        "tenants/acme/focus/2026-01/export+part-1.csv.gz",
        &format!("tenants/{t}/focus/2026-01/export+part-1.csv.gz"),
    );
    let trigger: Trigger = serde_json::from_str(&text).unwrap();
    // The function's own calls may only be those of functions/cost-ingest/iam.txt.
    let s3 = moto_client_with(valdrix_tests::iam_guard::sdk_guard());
    let core = state.core();
    let queue = moto_queue().await;
    let ingest = Ingest {
        core: &core,
        s3: &s3,
        queue: &queue,
        pace: Pace::default(),
    };
    let out = handle(&ingest, trigger, Budget::unbounded()).await.unwrap();
    assert_eq!(out["objects"][0]["status"], "ingested", "{out}");
    assert_eq!(out["objects"][0]["report"]["inserted"], 3, "{out}");
    assert_eq!(ledger(&state, &t).await.len(), 3);

    // The same event again (S3 delivers at least once) changes nothing.
    let again = handle(
        &ingest,
        serde_json::from_str(&text).unwrap(),
        Budget::unbounded(),
    )
    .await
    .unwrap();
    assert_eq!(again["objects"][0]["status"], "already ingested", "{again}");
    assert_eq!(cost_events(&state, &t).await, 1);

    // An object for an unknown tenant is skipped, not retried.
    let other: Trigger =
        serde_json::from_str(&text.replace(&format!("tenants/{t}/"), "tenants/nobody/")).unwrap();
    let out = handle(&ingest, other, Budget::unbounded()).await.unwrap();
    assert_eq!(out["objects"][0]["status"], "skipped", "{out}");
}

/// A file larger than one invocation's budget: the S3 event does a step and
/// queues the next; each queue message does a step, and the last audits.
#[tokio::test]
async fn a_large_file_continues_through_the_queue_to_one_set_of_rows() {
    let state = state_with(dynamo_store().await);
    let t = tenant(&state).await;
    let s3 = moto_client().await;
    let bucket = unique("ingest").to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let key = format!("tenants/{t}/focus/big.csv");
    let rows: Vec<String> = (0..25)
        .map(|i| {
            focus_line(
                &format!("{i}.25"),
                "2026-01-05T10:00:00Z",
                "2026-01-05T11:00:00Z",
                "AWS Lambda",
                "Compute",
                &format!("fn-{i}"),
                "",
                "final",
            )
        })
        .collect();
    let mut with_bad = rows.clone();
    with_bad.insert(7, rows[7].replace(",Compute,", ",Computing,"));
    with_bad.insert(20, rows[3].clone());
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(focus_csv(&with_bad).into_bytes().into())
        .send()
        .await
        .unwrap();

    let s3 = moto_client_with(valdrix_tests::iam_guard::sdk_guard());
    let core = state.core();
    let queue = moto_queue().await;
    let ingest = Ingest {
        core: &core,
        s3: &s3,
        queue: &queue,
        pace: Pace {
            batch_rows: 4,
            in_flight: 3,
        },
    };
    let budget = Budget {
        deadline: valdrix_shared::deadline::Deadline::unbounded(),
        records: 6,
    };
    // An event without the ETag: the function asks S3 for it.
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/s3-cost-ingest.json"
    ))
    .unwrap()
    .replace("REPLACE_WITH_BUCKET", &bucket)
    .replace("0123456789abcdef0123456789abcdef", "")
    .replace("tenants/acme/focus/2026-01/export+part-1.csv.gz", &key);
    let out = handle(&ingest, serde_json::from_str(&event).unwrap(), budget)
        .await
        .unwrap();
    assert_eq!(out["objects"][0]["status"], "continues", "{out}");

    let mut steps = 1;
    let report = loop {
        let messages = receive(&queue).await;
        assert_eq!(messages.len(), 1, "one next step queued");
        // Delivered twice (SQS is at least once): the copy finds the file moved on.
        let twice = json!({"Records": [messages[0].clone(), messages[0].clone()]});
        let out = handle(&ingest, serde_json::from_value(twice).unwrap(), budget)
            .await
            .unwrap();
        assert_eq!(out["batchItemFailures"], json!([]), "{out}");
        steps += 1;
        let outcomes = objects_of(&state, &t).await;
        if let Some(report) = outcomes {
            break report;
        }
        assert!(steps < 20, "the file never finished");
    };
    assert!(
        receive(&queue).await.is_empty(),
        "nothing queued after the last step"
    );
    assert_eq!(
        (
            report["rows_read"].as_u64(),
            report["inserted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(27), Some(25), Some(2)),
        "{report}"
    );
    let lines: Vec<_> = report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [9, 22]);
    assert_eq!(ledger(&state, &t).await.len(), 25);
    assert_eq!(cost_events(&state, &t).await, 1);
}

/// How many `cost.ingested` events the tenant's chain holds.
async fn cost_events(state: &SharedState, tenant: &str) -> usize {
    let (events, _) = state.audit.page(tenant, 100, None, true).await.unwrap();
    events
        .iter()
        .filter(|e| e.event_type == "cost.ingested")
        .count()
}

/// The details of the tenant's `cost.ingested` event, once there is one.
async fn objects_of(state: &SharedState, tenant: &str) -> Option<Value> {
    let (events, _) = state.audit.page(tenant, 100, None, true).await.unwrap();
    events
        .iter()
        .find(|e| e.event_type == "cost.ingested")
        .map(|e| e.details.clone())
}

/// A fresh queue in moto, as the function's own.
async fn moto_queue() -> IngestQueue {
    let client = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .endpoint_url(moto_endpoint())
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            .interceptor(valdrix_tests::iam_guard::sdk_guard())
            .build(),
    );
    let url = client
        .create_queue()
        .queue_name(unique("cost-ingest"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    IngestQueue { client, url }
}

/// The queue's messages as an SQS event's records (and deleted, as the
/// event source mapping does after a successful batch).
async fn receive(queue: &IngestQueue) -> Vec<Value> {
    let out = queue
        .client
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for m in out.messages() {
        queue
            .client
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
        records.push(json!({
            "messageId": m.message_id(),
            "receiptHandle": m.receipt_handle(),
            "body": m.body(),
            "eventSource": "aws:sqs",
            "attributes": {},
            "messageAttributes": {},
        }));
    }
    records
}

async fn moto_client() -> aws_sdk_s3::Client {
    moto_client_with(None)
}

/// A client of moto's S3, with an interceptor when given.
fn moto_client_with(
    guard: impl Into<Option<valdrix_tests::iam_guard::SdkGuard>>,
) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ));
    if let Some(guard) = guard.into() {
        config = config.interceptor(guard);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}
