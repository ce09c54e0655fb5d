//! A file ingested in steps ends as the same file ingested in one go: the
//! same rows, the same counts and rejections by line, one audit event; plain
//! (resumed at a byte offset) and gzip (resumed by skipping records), with
//! CRLF line ends and blank lines; on both store backends. Delivered again
//! when done, it changes nothing.

use std::io::Write;

use serde_json::Value;
use valdrix_shared::audit::Actor;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::ledger::ingest::{Budget, IngestError, IngestReport, Pace, ingest};
use valdrix_shared::ledger::resume::{CostFile, Step, ingest_step};
use valdrix_shared::ledger::{LedgerRange, query_ledger};
use valdrix_shared::state::SharedState;
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Tier};
use valdrix_tests::{dynamo_store, focus_line, sqlite_store, state_with, unique};

async fn tenant(state: &SharedState) -> String {
    let id = unique("steps");
    tenancy::create_tenant(
        &state.audit,
        Some(id.clone()),
        "Steps",
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

/// 40 rows with CRLF ends, blank lines, a quoted cell across lines, bad rows
/// and duplicates among them.
fn file() -> Vec<u8> {
    let line = |i: usize| {
        focus_line(
            &format!("{i}.5"),
            "2026-01-05T10:00:00Z",
            "2026-01-05T11:00:00Z",
            "AWS Lambda",
            "Compute",
            &format!("fn-{i}"),
            if i.is_multiple_of(9) {
                r#"{"note":"a\nb"}"#
            } else {
                ""
            },
            "final",
        )
    };
    let mut out = String::from(valdrix_tests::FOCUS_FIXTURE_HEADER);
    out.push_str("\r\n");
    for i in 0..40 {
        let text = match i {
            11 => line(3),                                     // a duplicate
            17 => line(i).replace(",Compute,", ",Computing,"), // rejected
            29 => line(5),                                     // a duplicate
            _ => line(i),
        };
        out.push_str(&text);
        out.push_str(if i.is_multiple_of(7) {
            "\r\n\r\n"
        } else {
            "\r\n"
        });
    }
    out.into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

const JANUARY: LedgerRange = LedgerRange {
    start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    end: chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
};

/// The tenant's rows, without what names the tenant or the run.
async fn ledger(state: &SharedState, tenant: &str) -> Vec<Value> {
    let (rows, _) = query_ledger(state.store.as_ref(), tenant, JANUARY, 1000, None)
        .await
        .unwrap();
    rows.into_iter()
        .map(|mut r| {
            r.ingest_run.clear();
            r.tenant_id.clear();
            serde_json::to_value(r).unwrap()
        })
        .collect()
}

async fn cost_events(state: &SharedState, tenant: &str) -> usize {
    let (events, _) = state.audit.page(tenant, 100, None, true).await.unwrap();
    events
        .iter()
        .filter(|e| e.event_type == "cost.ingested")
        .count()
}

/// Counts and rejections, without the run's names.
fn counts(r: &IngestReport) -> (u64, u64, u64, u64, Vec<(u64, String)>) {
    (
        r.rows_read,
        r.inserted,
        r.unchanged,
        r.rejected,
        r.rejections
            .iter()
            .map(|j| (j.line, j.reason.clone()))
            .collect(),
    )
}

/// Steps of `records` records each until done; the number of steps.
async fn in_steps(
    state: &SharedState,
    file: &CostFile,
    bytes: &[u8],
    records: u64,
) -> (IngestReport, u32) {
    let budget = Budget {
        deadline: Deadline::unbounded(),
        records,
    };
    let pace = Pace {
        batch_rows: 3,
        in_flight: 2,
    };
    let mut file = file.clone();
    for steps in 1..100 {
        let open = |offset: Option<u64>| {
            let from = offset.unwrap_or(0) as usize;
            let part = bytes[from..].to_vec();
            async move { Ok::<_, IngestError>(std::io::Cursor::new(part)) }
        };
        let step = ingest_step(
            &state.store,
            &state.audit,
            &file,
            open,
            pace,
            budget,
            Actor::System,
        )
        .await
        .unwrap();
        match step {
            Step::Paused { next, .. } => file.step = next,
            Step::Done(report) => return (report, steps),
            other => panic!("unexpected step {other:?}"),
        }
    }
    panic!("never done")
}

async fn steps_equal_one_go(store: DynStore) {
    let state = state_with(store);
    for (name, bytes) in [("plain", file()), ("gzip", gzip(&file()))] {
        let one_go_tenant = tenant(&state).await;
        let one_go = ingest(
            &state.store,
            &state.audit,
            &one_go_tenant,
            "one-go.csv",
            std::io::Cursor::new(bytes.clone()),
            Actor::System,
        )
        .await
        .unwrap();
        assert_eq!(
            (one_go.inserted, one_go.rejected),
            (37, 3),
            "{name}: {one_go:?}"
        );

        let t = tenant(&state).await;
        let file = CostFile {
            tenant_id: t.clone(),
            source: format!("s3://bucket/tenants/{t}/{name}.csv"),
            version: "etag-1".into(),
            step: 0,
        };
        let (report, steps) = in_steps(&state, &file, &bytes, 7).await;
        assert!(steps >= 6, "{name}: {steps} steps");
        assert_eq!(counts(&report), counts(&one_go), "{name}");
        assert_eq!(
            ledger(&state, &t).await,
            ledger(&state, &one_go_tenant).await,
            "{name}"
        );
        assert_eq!(cost_events(&state, &t).await, 1, "{name}");

        // Delivered again when done: nothing written, no second event.
        let open =
            |_: Option<u64>| async { Ok::<_, IngestError>(std::io::Cursor::new(Vec::new())) };
        let again = ingest_step(
            &state.store,
            &state.audit,
            &file,
            open,
            Pace::default(),
            Budget::unbounded(),
            Actor::System,
        )
        .await
        .unwrap();
        assert!(
            matches!(again, Step::AlreadyDone(r) if counts(&r) == counts(&report)),
            "{name}"
        );
        assert_eq!(cost_events(&state, &t).await, 1, "{name}");

        // A new version of the same object is a new file: its rows are the same.
        let newer = CostFile {
            version: "etag-2".into(),
            ..file.clone()
        };
        let (report, _) = in_steps(&state, &newer, &bytes, 1000).await;
        assert_eq!((report.inserted, report.unchanged), (0, 37), "{name}");
        assert_eq!(cost_events(&state, &t).await, 2, "{name}");
        assert!(state.audit.verify(&t).await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn steps_equal_one_go_sqlite() {
    steps_equal_one_go(sqlite_store().await).await;
}

#[tokio::test]
async fn steps_equal_one_go_dynamodb() {
    steps_equal_one_go(dynamo_store().await).await;
}

/// A step that wrote rows but stopped before recording where (a crash, a
/// timeout) is done again by the next: its rows are not duplicates of
/// themselves, and every row is there once.
#[tokio::test]
async fn a_step_replayed_after_a_crash_finds_its_own_rows() {
    let state = state_with(sqlite_store().await);
    let t = tenant(&state).await;
    let bytes = file();
    let file = CostFile {
        tenant_id: t.clone(),
        source: "s3://bucket/replayed.csv".into(),
        version: "v".into(),
        step: 0,
    };
    // The first step writes 20 records and records where it stopped.
    let budget = Budget {
        deadline: Deadline::unbounded(),
        records: 20,
    };
    let open = |_: Option<u64>| {
        let all = bytes.clone();
        async move { Ok::<_, IngestError>(std::io::Cursor::new(all)) }
    };
    let first = ingest_step(
        &state.store,
        &state.audit,
        &file,
        open,
        Pace::default(),
        budget,
        Actor::System,
    )
    .await
    .unwrap();
    let Step::Paused { at, next: 1 } = first else {
        panic!("{first:?}")
    };
    let recorded = progress(&state.store, &t).await;
    // A copy of the first step's delivery: done before, nothing written again.
    let nothing = |_: Option<u64>| async { Ok::<_, IngestError>(std::io::Cursor::new(Vec::new())) };
    let copy = ingest_step(
        &state.store,
        &state.audit,
        &file,
        nothing,
        Pace::default(),
        budget,
        Actor::System,
    )
    .await
    .unwrap();
    assert_eq!(copy, Step::Recorded { next: 1 });
    let file = CostFile {
        step: 1,
        ..file.clone()
    };
    // A second step wrote its rows, then died: its position was never
    // recorded, so the redelivered message begins where the first stopped.
    let tail = bytes[at.offset as usize..].to_vec();
    let run_rows = {
        let budget = Budget {
            deadline: Deadline::unbounded(),
            records: 10,
        };
        let tail = tail.clone();
        let open =
            move |_: Option<u64>| async move { Ok::<_, IngestError>(std::io::Cursor::new(tail)) };
        ingest_step(
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
    };
    assert!(matches!(run_rows, Step::Paused { next: 2, .. }));
    // A stale delivery (the file is past its step) does nothing.
    let stale = CostFile {
        step: 0,
        ..file.clone()
    };
    let nothing = |_: Option<u64>| async { Ok::<_, IngestError>(std::io::Cursor::new(Vec::new())) };
    let copy = ingest_step(
        &state.store,
        &state.audit,
        &stale,
        nothing,
        Pace::default(),
        budget,
        Actor::System,
    )
    .await
    .unwrap();
    assert_eq!(copy, Step::Overtaken);
    // Put the progress back to where the first step left it, as a crash would.
    state
        .store
        .put(recorded, valdrix_shared::store::Condition::None)
        .await
        .unwrap();
    let open =
        move |_: Option<u64>| async move { Ok::<_, IngestError>(std::io::Cursor::new(tail)) };
    let last = ingest_step(
        &state.store,
        &state.audit,
        &file,
        open,
        Pace::default(),
        Budget::unbounded(),
        Actor::System,
    )
    .await
    .unwrap();
    let Step::Done(report) = last else {
        panic!("{last:?}")
    };
    assert_eq!((report.rows_read, report.rejected), (40, 3), "{report:?}");
    assert_eq!(report.inserted + report.unchanged, 37);
    assert_eq!(ledger(&state, &t).await.len(), 37);
}

/// The file's progress record as it is now.
async fn progress(store: &DynStore, tenant: &str) -> valdrix_shared::store::Item {
    use valdrix_shared::store::{Query, SortKey};
    let page = store
        .query(Query::new(
            format!("TENANT#{tenant}"),
            SortKey::Prefix("INGEST#".into()),
        ))
        .await
        .unwrap();
    page.items[0].clone()
}
