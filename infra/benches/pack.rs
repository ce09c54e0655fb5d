//! The compliance-pack benchmark: a 1,000,000-row ledger on the embedded
//! store exported as a pack with all four exports, measuring rows/s and peak
//! RSS (VmHWM, reset before each phase through /proc/self/clear_refs).
//!
//!     cargo bench -p valdrix --bench pack
//!
//! `BENCH_ROWS` (default 1000000) sets the ledger size, `BENCH_INGEST_ROWS`
//! (default 100000) the size of the CSV file pushed through the ingest path.
//! The export runs the same `build_pack` an export job runs, with a job's
//! caps (none: the GET's bound is 200000) so every row is read and written.
//! Results are printed as JSON.

use std::io::Write;
use std::time::Instant;

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use valdrix_shared::audit::checkpoint::local::LocalSigner;
use valdrix_shared::audit::{Actor, tenant_pk};
use valdrix_shared::exports::{PackRequest, build_pack, options};
use valdrix_shared::ledger::{Decimal, LedgerRow, Lifecycle, ingest::ingest, ledger_sk, line_id};
use valdrix_shared::objects::{LocalDirStore, ObjectStore};
use valdrix_shared::store::codec::to_item;
use valdrix_shared::store::{Condition, WriteOp};
use valdrix_shared::tenancy::{ChangeContext, Tier, create_tenant};

/// This process's peak resident set (VmHWM) in KiB.
fn peak_kib() -> u64 {
    common::vm_hwm_kib(std::process::id()).unwrap_or(0)
}

fn reset_peak() {
    // "5" resets the peak RSS counter (Linux >= 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn row(tenant: &str, i: usize) -> LedgerRow {
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days((i % 31) as i64);
    let start = Utc.from_utc_datetime(&day.and_hms_opt((i % 24) as u32, 0, 0).unwrap());
    let services = [
        ("Amazon Elastic Compute Cloud", "Compute"),
        ("Amazon Simple Storage Service", "Storage"),
        ("Amazon Relational Database Service", "Databases"),
        ("AWS Lambda", "Compute"),
    ];
    let (service, category) = services[i % services.len()];
    let cost = Decimal::new((i % 100_000) as i64 + 1, 4);
    LedgerRow {
        line_id: line_id(&[&i.to_string()]),
        tenant_id: tenant.into(),
        charge_date: day,
        charge_period_start: start,
        charge_period_end: start + Duration::hours(1),
        billing_period_start: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        billing_period_end: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
        provider: "aws".into(),
        provider_name: "AWS".into(),
        billing_account_id: "123456789012".into(),
        billing_account_name: Some("Main".into()),
        sub_account_id: Some(format!("{:012}", 100_000_000_000u64 + (i % 50) as u64)),
        sub_account_name: None,
        service_name: service.into(),
        service_category: category.into(),
        region_id: Some("us-east-1".into()),
        resource_id: Some(format!(
            "arn:aws:ec2:us-east-1:123456789012:instance/i-{i:017x}"
        )),
        resource_type: Some("Instance".into()),
        charge_category: "Usage".into(),
        charge_class: None,
        charge_frequency: Some("Usage-Based".into()),
        charge_description: Some(format!("{service} usage")),
        pricing_quantity: Some(Decimal::new(1, 0)),
        pricing_unit: Some("Hours".into()),
        billed_cost: cost,
        effective_cost: cost,
        list_cost: cost,
        contracted_cost: cost,
        currency: "USD".into(),
        tags: [(
            "env".to_string(),
            json!(if i.is_multiple_of(2) { "prod" } else { "dev" }),
        )]
        .into_iter()
        .collect(),
        lifecycle: if i.is_multiple_of(10) {
            Lifecycle::Preliminary
        } else {
            Lifecycle::Final
        },
        extra: Default::default(),
        ingest_run: "bench".into(),
        ingest_line: 0,
    }
}

#[tokio::main]
async fn main() {
    let rows = common::env_or("BENCH_ROWS", 1_000_000usize);
    let ingest_rows = common::env_or("BENCH_INGEST_ROWS", 100_000usize);
    let work = common::temp_dir("bench-pack");
    let store = common::sqlite_store(work.path()).await;
    let state = valdrix_tests::state_with(store.clone());
    let tenant = valdrix_tests::unique("bench");
    let ctx = ChangeContext {
        actor: Actor::AdminKey,
        request_id: None,
    };
    create_tenant(
        &state.audit,
        Some(tenant.clone()),
        "Bench",
        Tier::Enterprise,
        &ctx,
    )
    .await
    .unwrap();

    // Seed the ledger in transactions of 100 puts.
    reset_peak();
    let t0 = Instant::now();
    let pk = tenant_pk(&tenant);
    let mut ops = Vec::with_capacity(100);
    for i in 0..rows {
        let r = row(&tenant, i);
        ops.push(WriteOp::Put {
            item: to_item(&pk, &ledger_sk(r.charge_date, &r.line_id), 1, &r),
            condition: Condition::None,
        });
        if ops.len() == 100 {
            store.transact(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    if !ops.is_empty() {
        store.transact(ops).await.unwrap();
    }
    let seed_secs = t0.elapsed().as_secs_f64();
    let seed_peak = peak_kib();

    // Ingest path: a gzip FOCUS CSV of `ingest_rows` through the streaming parser.
    let path =
        std::env::temp_dir().join(format!("{}.csv.gz", valdrix_tests::unique("bench-focus")));
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::fast(),
        );
        writeln!(gz, "{}", valdrix_tests::FOCUS_FIXTURE_HEADER).unwrap();
        for i in 0..ingest_rows {
            let start = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()
                + Duration::hours((i % 600) as i64);
            let end = start + Duration::hours(1);
            writeln!(
                gz,
                "{}",
                valdrix_tests::focus_line(
                    &format!("{}.{:04}", i % 97, i % 10_000),
                    &start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    &end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "AWS Lambda",
                    "Compute",
                    &format!("fn-{i}"),
                    r#"{"team":"core"}"#,
                    "final",
                )
            )
            .unwrap();
        }
        gz.finish().unwrap().flush().unwrap();
    }
    reset_peak();
    let t1 = Instant::now();
    let report = ingest(
        &state.store,
        &state.audit,
        &tenant,
        "bench.csv.gz",
        std::fs::File::open(&path).unwrap(),
        Actor::System,
    )
    .await
    .unwrap();
    let ingest_secs = t1.elapsed().as_secs_f64();
    let ingest_peak = peak_kib();
    assert_eq!(report.inserted as usize, ingest_rows);
    let _ = std::fs::remove_file(&path);

    // Export: all four exports, every January row.
    let query: Vec<(String, String)> = [
        ("include_focus_export", "true"),
        ("include_savings_proof", "true"),
        ("include_realized_savings", "true"),
        ("include_close_package", "true"),
        ("focus_include_preliminary", "true"),
        ("close_enforce_finalized", "false"),
        ("focus_start_date", "2026-01-01"),
        ("focus_end_date", "2026-01-31"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let opts = options::parse_with(&query, Utc::now().date_naive(), options::Caps::Job).unwrap();
    let dir = std::env::temp_dir().join(valdrix_tests::unique("bench-packs"));
    let objects = LocalDirStore::new(&dir, [7u8; 32]);
    let req = PackRequest {
        run_id: "bench".into(),
        tenant_id: tenant.clone(),
        tier: "enterprise".into(),
        actor: Actor::System,
        environment: "local".into(),
        generated_at: Utc::now(),
        options: opts,
        deadline: valdrix_shared::deadline::Deadline::unbounded(),
        progress: Default::default(),
    };
    reset_peak();
    let t2 = Instant::now();
    let mut upload = objects
        .create("packs/bench.zip", "application/zip")
        .await
        .unwrap();
    let signer = LocalSigner::open_or_create(&dir.join("audit-signing-key.p8")).unwrap();
    let result = build_pack(&state.store, &state.audit, &signer, &req, upload.as_mut())
        .await
        .unwrap();
    upload.finish().await.unwrap();
    let export_secs = t2.elapsed().as_secs_f64();
    let export_peak = peak_kib();
    assert_eq!(result.manifest["row_counts"]["focus_export"], rows as u64);
    assert_eq!(result.manifest["truncated"]["focus_export"], false);
    let focus_bytes = result.manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "exports/focus-v1.2.csv")
        .map(|f| f["bytes"].clone());

    let zip_path = dir.join("packs/bench.zip");
    let check = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-t"])
        .arg(&zip_path)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let gzip_secs = gzip6_of_focus(&zip_path, &dir);
    let _ = std::fs::remove_dir_all(&dir);

    let mib = |k: u64| (k as f64 / 1024.0 * 10.0).round() / 10.0;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "ledger_rows": rows,
            "seed": {"seconds": seed_secs, "rows_per_second": (rows as f64 / seed_secs).round(), "peak_rss_mib": mib(seed_peak)},
            "ingest": {"rows": ingest_rows, "seconds": ingest_secs, "rows_per_second": (ingest_rows as f64 / ingest_secs).round(), "peak_rss_mib": mib(ingest_peak)},
            "export": {
                "rows": rows,
                "seconds": export_secs,
                "rows_per_second": (rows as f64 / export_secs).round(),
                "peak_rss_mib": mib(export_peak),
                "zip_bytes": result.bytes,
                "focus_csv_bytes": focus_bytes,
                "zipfile_test_ok": check,
                "gzip6_focus_csv_seconds": gzip_secs,
                "export_vs_gzip6": gzip_secs.map(|g| (export_secs / g * 100.0).round() / 100.0),
                "close_status": result.manifest["exports"]["close_package"]["close_status"],
            },
        }))
        .unwrap()
    );
    assert!(check, "python3 -m zipfile -t rejected the pack");
    assert!(
        export_peak < 128 * 1024,
        "export peak RSS {export_peak} KiB >= 128 MiB"
    );
}

/// The peer: `gzip -6` over the same FOCUS CSV bytes (taken out of the pack),
/// timed in this run; `None` without gzip.
fn gzip6_of_focus(zip_path: &std::path::Path, dir: &std::path::Path) -> Option<f64> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip_path).ok()?).ok()?;
    let csv_path = dir.join("focus.csv");
    let mut member = archive.by_name("exports/focus-v1.2.csv").ok()?;
    std::io::copy(&mut member, &mut std::fs::File::create(&csv_path).ok()?).ok()?;
    let t = Instant::now();
    let ok = std::process::Command::new("gzip")
        .args(["-6", "-c"])
        .arg(&csv_path)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    ok.then(|| t.elapsed().as_secs_f64())
}
