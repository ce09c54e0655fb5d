//! A cost file ingested in steps, one per invocation, each taking up where
//! the last stopped; and once only.
//!
//! One progress record per file version (`INGEST#<digest of source and
//! version>` in the tenant's partition) holds the run (its id, which every
//! row it writes carries), where the next step begins, and the counts so
//! far. A step reads it, writes rows until its budget, and records the new
//! position under the version it read; the last step appends the
//! `cost.ingested` audit event in the same transaction that marks the record
//! done. So a file delivered twice is ingested once, a step delivered twice
//! finds the record moved on (each delivery names its step), and two
//! deliveries racing leave one winner.
//!
//! A plain file resumes at the byte offset of its next record (a ranged
//! read); a gzip file cannot be entered in the middle, so it is read again
//! and its records up to the position skipped unmapped.

use std::future::Future;
use std::io::Read;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::batches::{Budget, Pace, Stopped};
use super::ingest::{IngestError, IngestReport, ingested_event, run_part};
use super::parse::{At, Begin};
use crate::audit::{Actor, AuditError, AuditLog, tenant_pk};
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, DynStore, StoreError, TTL_ATTRIBUTE, WriteOp};

const PROGRESS_PREFIX: &str = "INGEST#";
/// How long a finished file is remembered (a redelivery later than this
/// ingests it again, which changes nothing but the counts' audit event).
const REMEMBER_DAYS: i64 = 35;
/// A progress record stays well under DynamoDB's 400 KB item limit.
const MAX_PROGRESS_BYTES: usize = 256 * 1024;

/// One version of one cost file of a tenant, and which of its steps is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostFile {
    pub tenant_id: String,
    /// Where it is, as reports and audit events name it (`s3://bucket/key`).
    pub source: String,
    /// Which version of it: the S3 version id, else its ETag.
    pub version: String,
    /// The step this delivery is for (0 for the first): a copy of a step's
    /// message finds the file past it and does nothing.
    pub step: u32,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The file is done; this step appended its `cost.ingested` event.
    Done(IngestReport),
    /// The file was done before this step (a redelivery): nothing written.
    AlreadyDone(IngestReport),
    /// The budget ran out: step `next` begins at `At`.
    Paused { at: At, next: u32 },
    /// This step was done before (a redelivery): step `next` is the file's
    /// next, whose message may or may not have been sent.
    Recorded { next: u32 },
    /// The file is past this step, or another delivery of it moved on
    /// first: this one stops, and the other carries the file on.
    Overtaken,
    /// The file cannot be read on; its audit event records the error.
    Unreadable(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    source: String,
    /// The file's version (`version` is the store's own counter).
    object_version: String,
    started_at: DateTime<Utc>,
    /// The header and whether the file is gzip, once read.
    header: Option<Vec<String>>,
    gzip: bool,
    /// Where the next step begins; `None` before the first.
    next: Option<At>,
    steps: u32,
    done: bool,
    report: IngestReport,
}

fn progress_sk(file: &CostFile) -> String {
    let mut h = Sha256::new();
    h.update(file.source.as_bytes());
    h.update([0x1f]);
    h.update(file.version.as_bytes());
    format!("{PROGRESS_PREFIX}{}", hex::encode(&h.finalize()[..16]))
}

fn progress_op(file: &CostFile, progress: &Progress, condition: Condition) -> WriteOp {
    let version = match condition {
        Condition::VersionEquals(v) => v + 1,
        _ => 1,
    };
    let mut item = to_item(
        &tenant_pk(&file.tenant_id),
        &progress_sk(file),
        version,
        progress,
    );
    let ttl = (progress.started_at + Duration::days(REMEMBER_DAYS)).timestamp();
    item.insert(TTL_ATTRIBUTE.into(), ttl.into());
    WriteOp::Put { item, condition }
}

/// The progress record, created when this is the file's first step.
async fn load_or_start(store: &DynStore, file: &CostFile) -> Result<(Progress, u64), StoreError> {
    let (pk, sk) = (tenant_pk(&file.tenant_id), progress_sk(file));
    for _ in 0..2 {
        if let Some(item) = store.get(&pk, &sk).await? {
            return from_item(&item);
        }
        let progress = Progress {
            source: file.source.clone(),
            object_version: file.version.clone(),
            started_at: Utc::now(),
            header: None,
            gzip: false,
            next: None,
            steps: 0,
            done: false,
            report: IngestReport {
                run_id: uuid::Uuid::now_v7().to_string(),
                tenant_id: file.tenant_id.clone(),
                source: file.source.clone(),
                ..Default::default()
            },
        };
        let WriteOp::Put { item, condition } = progress_op(file, &progress, Condition::NotExists)
        else {
            unreachable!("progress_op puts");
        };
        match store.put(item, condition).await {
            Ok(()) => return Ok((progress, 1)),
            // Another step created it first: read theirs.
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable(format!(
        "ingest progress {sk} was created and gone again"
    )))
}

/// Keeps the record under the item limit: the listed rejections give way
/// first (they are counted all the same).
fn fit(progress: &mut Progress) {
    while progress.report.rejections.len() > 1
        && serde_json::to_vec(progress).map_or(0, |v| v.len()) > MAX_PROGRESS_BYTES
    {
        let keep = progress.report.rejections.len() / 2;
        progress.report.rejections.truncate(keep);
        progress.report.rejections_truncated = true;
    }
}

/// One step of `file`: `open(offset)` fetches it (from byte `offset` on when
/// given: a ranged read); rows are written at `pace` until `budget` runs out.
pub async fn ingest_step<R, F, Fut>(
    store: &DynStore,
    audit: &AuditLog,
    file: &CostFile,
    open: F,
    pace: Pace,
    budget: Budget,
    actor: Actor,
) -> Result<Step, IngestError>
where
    R: Read + Send + 'static,
    F: FnOnce(Option<u64>) -> Fut,
    Fut: Future<Output = Result<R, IngestError>>,
{
    let (mut progress, version) = load_or_start(store, file).await?;
    if progress.done {
        return Ok(Step::AlreadyDone(progress.report));
    }
    if progress.steps == file.step + 1 {
        return Ok(Step::Recorded {
            next: progress.steps,
        });
    }
    if progress.steps != file.step {
        return Ok(Step::Overtaken);
    }
    let (begin, offset) = match (&progress.next, &progress.header) {
        (Some(at), Some(header)) if !progress.gzip => (
            Begin::Offset {
                header: header.clone(),
                at: *at,
            },
            Some(at.offset),
        ),
        (Some(at), _) => (
            Begin::Skip {
                records: at.records,
            },
            None,
        ),
        (None, _) => (Begin::File, None),
    };
    let reader = open(offset).await?;
    let (stopped, opened) =
        run_part(store, &mut progress.report, reader, begin, pace, budget).await?;
    if let Some((header, gzip)) = opened {
        progress.header = Some(header);
        progress.gzip = gzip;
    }
    progress.steps += 1;
    let (fatal, step) = match stopped {
        Stopped::Paused(at) => {
            progress.next = Some(at);
            fit(&mut progress);
            let WriteOp::Put { item, condition } =
                progress_op(file, &progress, Condition::VersionEquals(version))
            else {
                unreachable!("progress_op puts");
            };
            return match store.put(item, condition).await {
                Ok(()) => Ok(Step::Paused {
                    at,
                    next: progress.steps,
                }),
                Err(StoreError::ConditionFailed { .. }) => Ok(Step::Overtaken),
                Err(e) => Err(e.into()),
            };
        }
        Stopped::End => (None, Step::Done(progress.report.clone())),
        Stopped::Fatal(e) => (Some(e.clone()), Step::Unreadable(e)),
    };
    progress.done = true;
    fit(&mut progress);
    let event = ingested_event(&progress.report, fatal.as_deref(), actor);
    let done = progress_op(file, &progress, Condition::VersionEquals(version));
    match audit.append_with(event, vec![done]).await {
        Ok(_) => Ok(step),
        Err(AuditError::Store(StoreError::TransactionConditionFailed { .. })) => {
            Ok(Step::Overtaken)
        }
        Err(AuditError::Store(e)) => Err(e.into()),
        Err(e) => Err(StoreError::Unavailable(format!("audit: {e}")).into()),
    }
}
