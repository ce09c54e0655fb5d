//! Export jobs: a compliance pack built outside the API request, recorded in
//! the table so that its state can be asked for, and exactly one job per
//! tenant and parameter set while one is queued or running.
//!
//! Items (the single table): the job at `EXPORTJOB#<tenant>` / `JOB#<id>`,
//! and the parameter set's lock at `EXPORTJOB#<tenant>` / `ACTIVE#<hash>`
//! naming the job that holds it. A job and its lock are created in one
//! transaction with `NotExists` on the lock; a lock whose job has ended (or
//! is stale: its worker died without a record) is taken over with
//! `VersionEquals`, so two equal requests racing get one job. Every change
//! of a job is a `VersionEquals` put.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::export::{ExportError, ExportRequest, record_outcome, record_request};
use super::options::{Caps, OptionError, PackOptions, parse_with};
use crate::audit::{Actor, AuditLog};
use crate::deadline::Deadline;
use crate::store::{Condition, Item, Store, StoreError, TTL_ATTRIBUTE, VERSION_ATTRIBUTE, WriteOp};

/// Invocations a job may take before it is failed. A stop at the deadline
/// starts the pack over in the next invocation (no continuation: ADR 0013).
pub const MAX_ATTEMPTS: u32 = 3;
/// A job record is kept this long after its last change.
const KEEP_SECONDS: i64 = 7 * 24 * 3600;
/// A running job writes its progress at least this often...
pub const HEARTBEAT_SECONDS: u64 = 5;
/// ...so one unchanged for this long has lost its worker (a crash): the
/// retry of its event (Lambda retries a failed asynchronous event twice,
/// within minutes) takes it over.
const TAKEOVER_SECONDS: i64 = 60;
/// A job unchanged for this long has lost its events too: it is failed on
/// sight, on record.
const ABANDONED_SECONDS: i64 = 20 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn ended(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Where a finished job's pack is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    pub key: String,
    pub filename: String,
    pub bytes: u64,
    pub sha256: String,
    pub manifest_sha256: String,
}

/// One export job, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub tenant_id: String,
    pub state: JobState,
    /// The pack's run id (its audit events, its object key).
    pub run_id: String,
    pub params_hash: String,
    /// The request as asked: re-parsed by the worker with `today` and `caps`.
    pub query: Vec<(String, String)>,
    pub today: NaiveDate,
    pub caps: Caps,
    /// The pack's `generated_at`.
    pub now: DateTime<Utc>,
    pub tier: String,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub environment: String,
    pub path: String,
    pub method: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempts: u32,
    /// Rows written by the current (or last) attempt.
    pub rows_done: u64,
    /// The most rows an earlier attempt reached: a lower bound of the total.
    pub rows_estimate: Option<u64>,
    pub result: Option<JobResult>,
    /// A failed job's problem document (RFC 9457).
    pub problem: Option<Value>,
    #[serde(skip)]
    version: u64,
}

/// What a new job is for.
pub struct JobSpec {
    pub tenant_id: String,
    pub tier: String,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub environment: String,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub caps: Caps,
    pub now: DateTime<Utc>,
}

impl JobSpec {
    /// The options the job will build, or the parameter that is wrong.
    pub fn options(&self) -> Result<PackOptions, OptionError> {
        parse_with(&self.query, self.now.date_naive(), self.caps)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bad options: {} {}", .0.param, .0.message)]
    Options(OptionError),
    /// The job is recorded failed: its request could not be put on record.
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// `create`'s answer: a new job, or the one already queued or running for
/// the same tenant and parameters.
#[derive(Debug)]
pub enum Created {
    New(Job),
    Existing(Job),
}

fn pk(tenant_id: &str) -> String {
    format!("EXPORTJOB#{tenant_id}")
}

fn job_sk(job_id: &str) -> String {
    format!("JOB#{job_id}")
}

fn lock_sk(hash: &str) -> String {
    format!("ACTIVE#{hash}")
}

/// A job id is a UUID (anything else names no job).
pub fn valid_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

/// Equal requests resolve to equal options (defaults and windows resolved
/// against the day), so "the same request" is the same resolved options.
fn params_hash(caps: Caps, options: &PackOptions) -> String {
    let text = json!({"caps": caps, "options": options}).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Job {
    fn item(&self) -> Item {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["pk"] = json!(pk(&self.tenant_id));
        v["sk"] = json!(job_sk(&self.job_id));
        v[VERSION_ATTRIBUTE] = json!(self.version);
        v[TTL_ATTRIBUTE] = json!(self.updated_at.timestamp() + KEEP_SECONDS);
        v.as_object().cloned().unwrap_or_default()
    }

    fn from_item(item: Item) -> Result<Self, StoreError> {
        let version = item
            .get(VERSION_ATTRIBUTE)
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut job: Self = serde_json::from_value(Value::Object(item))
            .map_err(|e| StoreError::Invalid(format!("export job record: {e}")))?;
        job.version = version;
        Ok(job)
    }

    /// The request the worker builds: the stored query re-parsed.
    pub fn export_request(&self, deadline: Deadline) -> Result<ExportRequest, OptionError> {
        Ok(ExportRequest {
            tenant_id: self.tenant_id.clone(),
            tier: self.tier.clone(),
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            environment: self.environment.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            options: parse_with(&self.query, self.today, self.caps)?,
            now: self.now,
            deadline,
        })
    }

    /// Unchanged for longer than `seconds` and not ended.
    fn idle(&self, now: DateTime<Utc>, seconds: i64) -> bool {
        !self.state.ended() && (now - self.updated_at).num_seconds() > seconds
    }

    /// Save under the version read; the in-memory version moves on.
    pub(super) async fn save(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        self.updated_at = Utc::now();
        let read = self.version;
        self.version += 1;
        let result = store.put(self.item(), Condition::VersionEquals(read)).await;
        if result.is_err() {
            self.version = read;
        }
        result
    }

    /// Record the job failed with a problem document.
    pub(super) fn fail(&mut self, status: u16, title: &str, detail: &str) {
        self.state = JobState::Failed;
        let slug: String = title
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-");
        self.problem = Some(json!({
            "type": format!("https://docs.valdrix.io/problems/{slug}"),
            "title": title,
            "status": status,
            "detail": detail,
        }));
    }
}

/// The job `job_id` of `tenant_id`, if it exists (another tenant's id is
/// absent here). A job whose worker is gone is failed on sight, on record.
pub async fn get(
    store: &dyn Store,
    audit: &AuditLog,
    tenant_id: &str,
    job_id: &str,
) -> Result<Option<Job>, StoreError> {
    if !valid_id(job_id) {
        return Ok(None);
    }
    let Some(item) = store.get(&pk(tenant_id), &job_sk(job_id)).await? else {
        return Ok(None);
    };
    let mut job = Job::from_item(item)?;
    if job.idle(Utc::now(), ABANDONED_SECONDS) {
        job = end_abandoned(store, audit, job).await?;
    }
    Ok(Some(job))
}

async fn end_abandoned(store: &dyn Store, audit: &AuditLog, job: Job) -> Result<Job, StoreError> {
    fail_unstarted(
        store,
        audit,
        job,
        "the export stopped without finishing; ask for it again",
    )
    .await
}

/// Fail a job no worker has (its event was lost or could not be sent), with
/// the failure on record; if a worker wrote meanwhile, what it wrote stands.
pub async fn fail_unstarted(
    store: &dyn Store,
    audit: &AuditLog,
    mut job: Job,
    detail: &str,
) -> Result<Job, StoreError> {
    job.fail(503, "Service Unavailable", detail);
    match job.save(store).await {
        Ok(()) => {
            if let Ok(req) = job.export_request(Deadline::unbounded()) {
                record_outcome(audit, &req, &job.run_id, Err(&ExportError::OutOfTime)).await;
            }
            Ok(job)
        }
        // Its worker wrote meanwhile: what it wrote stands.
        Err(StoreError::ConditionFailed { .. }) => store
            .get(&pk(&job.tenant_id), &job_sk(&job.job_id))
            .await?
            .map(Job::from_item)
            .transpose()?
            .ok_or(StoreError::Unavailable("export job vanished".into())),
        Err(e) => Err(e),
    }
}

/// A new job for `spec` with its request on record, or the job already
/// queued or running for the same tenant and resolved options.
pub async fn create(
    store: &dyn Store,
    audit: &AuditLog,
    spec: JobSpec,
) -> Result<Created, JobError> {
    let options = spec.options().map_err(JobError::Options)?;
    let hash = params_hash(spec.caps, &options);
    let tenant_pk = pk(&spec.tenant_id);
    let mut job = Job {
        job_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: spec.tenant_id,
        state: JobState::Queued,
        run_id: uuid::Uuid::now_v7().to_string(),
        params_hash: hash.clone(),
        query: spec.query,
        today: spec.now.date_naive(),
        caps: spec.caps,
        now: spec.now,
        tier: spec.tier,
        actor: spec.actor,
        request_id: spec.request_id,
        environment: spec.environment,
        path: spec.path,
        method: spec.method,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        attempts: 0,
        rows_done: 0,
        rows_estimate: None,
        result: None,
        problem: None,
        version: 1,
    };
    // A few rounds: each lost race means another request moved the lock.
    for _ in 0..4 {
        let lock = store.get(&tenant_pk, &lock_sk(&hash)).await?;
        let (lock_version, condition) = match &lock {
            None => (1, Condition::NotExists),
            Some(item) => {
                let held = item.get("job_id").and_then(Value::as_str).unwrap_or("");
                let version = item
                    .get(VERSION_ATTRIBUTE)
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if let Some(existing) = get(store, audit, &job.tenant_id, held).await?
                    && !existing.state.ended()
                {
                    return Ok(Created::Existing(existing));
                }
                (version + 1, Condition::VersionEquals(version))
            }
        };
        let lock_item = json!({
            "pk": tenant_pk, "sk": lock_sk(&hash), "job_id": job.job_id,
            VERSION_ATTRIBUTE: lock_version,
            TTL_ATTRIBUTE: Utc::now().timestamp() + KEEP_SECONDS,
        });
        let ops = vec![
            WriteOp::Put {
                item: lock_item.as_object().cloned().unwrap_or_default(),
                condition,
            },
            WriteOp::Put {
                item: job.item(),
                condition: Condition::NotExists,
            },
        ];
        match store.transact(ops).await {
            Ok(()) => {}
            Err(
                StoreError::TransactionConditionFailed { .. } | StoreError::TransactionConflict,
            ) => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        // The request on record before anything is built; without the
        // record no pack is built.
        let req = job
            .export_request(Deadline::unbounded())
            .map_err(JobError::Options)?;
        if let Err(e) = record_request(audit, &req, &job.run_id).await {
            job.fail(503, "Service Unavailable", e.reason());
            job.save(store).await?;
            return Err(e.into());
        }
        return Ok(Created::New(job));
    }
    Err(StoreError::TransactionConflict.into())
}

/// What an invocation of the worker leaves: done (succeeded, failed, or
/// another worker has it), or to be handed to the next invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Done,
    Again,
}

/// Take the job for one attempt: `None` when there is nothing to do here
/// (ended, gone, or running elsewhere).
pub(super) async fn claim(
    store: &dyn Store,
    tenant_id: &str,
    job_id: &str,
) -> Result<Option<Job>, StoreError> {
    if !valid_id(job_id) {
        return Ok(None);
    }
    let Some(item) = store.get(&pk(tenant_id), &job_sk(job_id)).await? else {
        return Ok(None);
    };
    let mut job = Job::from_item(item)?;
    let now = Utc::now();
    if job.state.ended() || (job.state == JobState::Running && !job.idle(now, TAKEOVER_SECONDS)) {
        return Ok(None);
    }
    job.state = JobState::Running;
    job.attempts += 1;
    job.rows_done = 0;
    match job.save(store).await {
        Ok(()) => Ok(Some(job)),
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
