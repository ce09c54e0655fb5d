//! The cost-ingest benchmark: a plain FOCUS CSV of `BENCH_INGEST_ROWS`
//! (default 1,000,000) rows ingested
//!
//! 1. on the embedded store at the default pace (batches of 100, 6 in
//!    flight), beside the peer measured in the same run: the sequential pace
//!    of before (one row, one read and one write at a time) over the file's
//!    first `BENCH_PEER_ROWS` (default 100,000) rows, into a fresh tenant;
//! 2. on DynamoDB Local (`VALDRIX_TEST_DYNAMODB_ENDPOINT`, from
//!    `infra/emulators.sh start`) in steps of `BENCH_STEP_SECONDS` (default
//!    20) each, as invocations with a small budget would, each step opening
//!    the file at its recorded offset (the ranged read); then every row is
//!    counted in the ledger. `BENCH_DYNAMO_ROWS` (default: the file's) sizes
//!    this part; 0 skips it.
//!
//!     cargo bench -p valdrix --bench ingest
//!
//! Results are printed as JSON.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use chrono::{Duration as Days, TimeZone, Utc};
use serde_json::json;
use valdrix_shared::audit::Actor;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::ledger::ingest::{Budget, IngestError, Pace, ingest_paced};
use valdrix_shared::ledger::resume::{CostFile, Step, ingest_step};
use valdrix_shared::ledger::{LedgerRange, query_ledger};
use valdrix_shared::state::SharedState;
use valdrix_shared::tenancy::{ChangeContext, Tier, create_tenant};

/// A FOCUS CSV of `rows` distinct rows over January 2026.
fn write_file(path: &Path, rows: usize) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{}", valdrix_tests::FOCUS_FIXTURE_HEADER).unwrap();
    let month = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for i in 0..rows {
        let start = month + Days::hours((i % (31 * 24)) as i64);
        let end = start + Days::hours(1);
        let line = valdrix_tests::focus_line(
            &format!("{}.{:04}", i % 97, i % 10_000),
            &start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            &end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "AWS Lambda",
            "Compute",
            &format!("fn-{i}"),
            r#"{"team":"core"}"#,
            "final",
        );
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
}

async fn tenant(state: &SharedState) -> String {
    let id = valdrix_tests::unique("bench");
    let ctx = ChangeContext {
        actor: Actor::AdminKey,
        request_id: None,
    };
    create_tenant(
        &state.audit,
        Some(id.clone()),
        "Bench",
        Tier::Enterprise,
        &ctx,
    )
    .await
    .unwrap();
    id
}

/// One ingest in one go at `pace`: rows/s.
async fn one_go(state: &SharedState, path: &Path, rows: usize, pace: Pace) -> (f64, f64) {
    let t = tenant(state).await;
    let started = Instant::now();
    let report = ingest_paced(
        &state.store,
        &state.audit,
        &t,
        "bench.csv",
        std::fs::File::open(path).unwrap(),
        Actor::System,
        pace,
    )
    .await
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!((report.inserted as usize, report.rejected), (rows, 0));
    (secs, rows as f64 / secs)
}

/// Every ledger row of the tenant, counted page by page.
async fn count_rows(state: &SharedState, tenant: &str) -> usize {
    let range = LedgerRange {
        start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        end: chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
    };
    let (mut count, mut cursor) = (0, None);
    loop {
        let (rows, next) = query_ledger(state.store.as_ref(), tenant, range, 1000, cursor)
            .await
            .unwrap();
        count += rows.len();
        match next {
            Some(c) => cursor = Some(c),
            None => return count,
        }
    }
}

/// The file in steps of `step` each, each opening it at the recorded offset.
async fn in_steps(
    state: &SharedState,
    path: &Path,
    rows: usize,
    step: Duration,
) -> serde_json::Value {
    let t = tenant(state).await;
    let mut file = CostFile {
        tenant_id: t.clone(),
        source: format!("file://{}", path.display()),
        version: "bench".into(),
        step: 0,
    };
    let started = Instant::now();
    let mut steps = 0u32;
    let report = loop {
        steps += 1;
        let open = |offset: Option<u64>| async move {
            let mut f = std::fs::File::open(path).map_err(|e| IngestError::Fetch(e.to_string()))?;
            f.seek(SeekFrom::Start(offset.unwrap_or(0)))
                .map_err(|e| IngestError::Fetch(e.to_string()))?;
            Ok::<_, IngestError>(Box::new(f) as Box<dyn Read + Send>)
        };
        let budget = Budget::until(Deadline::after(step));
        match ingest_step(
            &state.store,
            &state.audit,
            &file,
            open,
            Pace::default(),
            budget,
            Actor::System,
        )
        .await
        .unwrap()
        {
            Step::Paused { next, .. } => file.step = next,
            Step::Done(report) => break report,
            other => panic!("unexpected step {other:?}"),
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let counted = count_rows(state, &t).await;
    assert_eq!((report.inserted as usize, report.rejected), (rows, 0));
    assert_eq!(counted, rows, "every row present once");
    json!({
        "rows": rows,
        "step_seconds": step.as_secs(),
        "steps": steps,
        "seconds": secs,
        "rows_per_second": (rows as f64 / secs).round(),
        "rows_counted_in_ledger": counted,
    })
}

#[tokio::main]
async fn main() {
    let rows = common::env_or("BENCH_INGEST_ROWS", 1_000_000usize);
    let peer_rows = common::env_or("BENCH_PEER_ROWS", 100_000usize).min(rows);
    let dynamo_rows = common::env_or("BENCH_DYNAMO_ROWS", rows);
    let step = Duration::from_secs(common::env_or("BENCH_STEP_SECONDS", 20u64));
    let work = common::temp_dir("bench-ingest");
    let path = work.path().join("focus.csv");
    let peer_path = work.path().join("focus-peer.csv");
    write_file(&path, rows);
    write_file(&peer_path, peer_rows);
    let bytes = std::fs::metadata(&path).unwrap().len();

    let sqlite = valdrix_tests::state_with(common::sqlite_store(work.path()).await);
    let (peer_secs, peer_rate) = one_go(&sqlite, &peer_path, peer_rows, Pace::SEQUENTIAL).await;
    let (secs, rate) = one_go(&sqlite, &path, rows, Pace::default()).await;
    let mut out = json!({
        "file": {"rows": rows, "bytes": bytes},
        "embedded": {
            "peer_sequential": {"rows": peer_rows, "seconds": peer_secs, "rows_per_second": peer_rate.round()},
            "batched": {"rows": rows, "seconds": secs, "rows_per_second": rate.round(), "pace": format!("{:?}", Pace::default())},
            "ratio": common::round2(rate / peer_rate),
        },
        "load_average": common::load_average(),
    });
    drop(sqlite);

    if dynamo_rows > 0 {
        let dynamo_path = if dynamo_rows == rows {
            path.clone()
        } else {
            let p = work.path().join("focus-dynamo.csv");
            write_file(&p, dynamo_rows);
            p
        };
        let dynamo = valdrix_tests::state_with(valdrix_tests::dynamo_store().await);
        out["dynamodb_local"] = in_steps(&dynamo, &dynamo_path, dynamo_rows, step).await;
    }
    out["load_average_after"] = json!(common::load_average());
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
