//! Cost files into the ledger: idempotence on both store backends, gzip,
//! restatements, rejected rows, and the S3 trigger against moto.

use std::io::Write;

use serde_json::Value;
use valdrix_shared::audit::Actor;
use valdrix_shared::ledger::ingest::{IngestReport, MAX_COST, ingest};
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
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(gz.finish().unwrap().into())
        .send()
        .await
        .unwrap();

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/s3-cost-ingest.json"
    ))
    .unwrap()
    .replace("REPLACE_WITH_BUCKET", &bucket)
    .replace(
        "tenants/acme/focus/2026-01/export+part-1.csv.gz",
        &format!("tenants/{t}/focus/2026-01/export+part-1.csv.gz"),
    );
    let event: aws_lambda_events::event::s3::S3Event = serde_json::from_str(&text).unwrap();
    // The function's own calls may only be those of functions/cost-ingest/iam.txt.
    let s3 = moto_client_with(valdrix_tests::iam_guard::sdk_guard());
    let out = cost_ingest::handle(&state.core(), &s3, event)
        .await
        .unwrap();
    assert_eq!(out["objects"][0]["status"], "ingested", "{out}");
    assert_eq!(out["objects"][0]["report"]["inserted"], 3, "{out}");
    assert_eq!(ledger(&state, &t).await.len(), 3);

    // An object for an unknown tenant is skipped, not retried.
    let other: aws_lambda_events::event::s3::S3Event =
        serde_json::from_str(&text.replace(&format!("tenants/{t}/"), "tenants/nobody/")).unwrap();
    let out = cost_ingest::handle(&state.core(), &s3, other)
        .await
        .unwrap();
    assert_eq!(out["objects"][0]["status"], "skipped", "{out}");
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
