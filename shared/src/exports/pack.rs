//! The compliance pack: core files, optional exports and the manifest,
//! written as one streamed ZIP.
//!
//! Optional exports never fail the pack: the FOCUS CSV is spooled to a
//! temporary file and copied into the archive only once complete, and the
//! other exports are computed before their files start, so a failure leaves
//! only `exports/<name>.error.json` (never a partial or header-only CSV) and
//! the manifest's `status: "error"` with the reason.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::options::PackOptions;
use super::proof::{self, Range};
use super::report::{self, ReportInput, Spend};
use super::verify_md;
use super::zipout::{Spool, Spooled, ZipOut, ZipOutError, csv_record};
use super::{close, csv_safe, focus, savings};
use crate::audit::checkpoint::{CheckpointError, Signer};
use crate::audit::{Actor, AuditError, AuditEvent, AuditLog, Verification};
use crate::deadline::Deadline;
use crate::ledger::{Lifecycle, query_ledger};
use crate::objects::Upload;
use crate::settings;
use crate::store::{Cursor, DynStore, StoreError};

/// 2: the pack carries its proof (proof.rs) and its report (report.rs).
pub const PACK_VERSION: &str = "2";
pub const FOCUS_PATH: &str = "exports/focus-v1.2.csv";
/// The FOCUS CSV goes to its compressor in chunks of about this size.
const SPOOL_CHUNK: usize = 256 * 1024;

/// Who asked for which pack.
#[derive(Debug, Clone)]
pub struct PackRequest {
    pub run_id: String,
    pub tenant_id: String,
    pub tier: String,
    pub actor: Actor,
    pub environment: String,
    pub generated_at: DateTime<Utc>,
    pub options: PackOptions,
    /// When building must stop ([`PackError::OutOfTime`]); checked between
    /// pages of rows.
    pub deadline: Deadline,
    /// Rows written so far, for a job's `running` state.
    pub progress: Progress,
}

/// A count of rows written that another task may read while the pack builds.
#[derive(Debug, Clone, Default)]
pub struct Progress(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Progress {
    pub fn rows(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn add(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct PackResult {
    pub bytes: u64,
    pub sha256: String,
    pub manifest: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Write(#[from] ZipOutError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The deadline came before the pack was complete.
    #[error("the pack was not complete before the deadline")]
    OutOfTime,
}

fn in_time(req: &PackRequest) -> Result<(), PackError> {
    match req.deadline.passed() {
        true => Err(PackError::OutOfTime),
        false => Ok(()),
    }
}

impl From<std::io::Error> for PackError {
    fn from(e: std::io::Error) -> Self {
        Self::Write(e.into())
    }
}

/// Build the pack into `upload` (not finished here: the caller finishes or
/// aborts it).
pub async fn build_pack(
    store: &DynStore,
    audit: &AuditLog,
    signer: &dyn Signer,
    req: &PackRequest,
    upload: &mut dyn Upload,
) -> Result<PackResult, PackError> {
    let opts = &req.options;
    let mut zip = ZipOut::new(upload);
    let mut counts = serde_json::Map::new();
    let mut truncated = serde_json::Map::new();

    // audit_log.csv — newest first, within start/end.
    let (n, more, csv_range) = audit_log_csv(&mut zip, audit, req).await?;
    counts.insert("audit_log".into(), json!(n));
    truncated.insert("audit_log".into(), json!(more));

    // notification_settings.json — the redacted view, has_* flags only.
    let (settings, version) = settings::load(store.as_ref(), &req.tenant_id).await?;
    let mut view = settings.view(version);
    view["exists"] = json!(version > 0);
    zip.json("notification_settings.json", &view).await?;

    // integration_acceptance_evidence.json — `evidence.*` events, newest first.
    let (evidence, more) = evidence(audit, &req.tenant_id, opts.evidence_limit).await?;
    let evidence_range = evidence
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .map(Range::of)
        .reduce(|a, b| Range::cover(Some(a), Some(b)).expect("both present"));
    counts.insert(
        "integration_acceptance_evidence".into(),
        json!(evidence.len()),
    );
    truncated.insert("integration_acceptance_evidence".into(), json!(more));
    let evidence = Value::Array(evidence);
    zip.json("integration_acceptance_evidence.json", &evidence)
        .await?;

    // audit_chain.json — the head, and the chain verified from event 1
    // under the pack's deadline: the verification and its range.
    let head = audit.head(&req.tenant_id).await?;
    let head_json = head
        .as_ref()
        .map_or(Value::Null, |h| json!({"seq": h.seq, "hash": h.hash}));
    let verified = audit
        .verify_within(&req.tenant_id, req.deadline)
        .await?
        .ok_or(PackError::OutOfTime)?;
    let chain_verified = json!({
        "from_seq": verified.verified_from,
        "to_seq": verified.verified_to,
        "intact": verified.ok,
    });
    let verification = Verification::from(verified.clone());
    zip.json(
        "audit_chain.json",
        &json!({
            "head": head_json,
            "verification": verification,
            "verified_range": verified,
        }),
    )
    .await?;

    let mut exports = serde_json::Map::new();

    // FOCUS 1.2 CSV.
    let f = &opts.focus_export;
    let mut spend = None;
    let status = if f.included {
        match focus_spool(store, req).await {
            Err(PackError::OutOfTime) => return Err(PackError::OutOfTime),
            Ok((spooled, rows, more, totals)) => {
                spend = Some(totals);
                zip.spooled(FOCUS_PATH, spooled, || in_time(req)).await?;
                counts.insert("focus_export".into(), json!(rows));
                truncated.insert("focus_export".into(), json!(more));
                ok_status(&[FOCUS_PATH])
            }
            Err(e) => error_file(&mut zip, "focus-v1.2", &e.to_string()).await?,
        }
    } else {
        skipped()
    };
    exports.insert("focus_export".into(), status);

    // Savings proof.
    let s = &opts.savings_proof;
    let status = if s.included {
        match savings::savings_proof(
            store.as_ref(),
            &req.tenant_id,
            &req.tier,
            s,
            req.generated_at,
        )
        .await
        {
            Ok((summary, lines)) => {
                zip.json("exports/savings-proof.json", &summary).await?;
                zip.file("exports/savings-proof.csv", &csv_bytes(&lines))
                    .await?;
                ok_status(&["exports/savings-proof.json", "exports/savings-proof.csv"])
            }
            Err(e) => error_file(&mut zip, "savings-proof", &e.to_string()).await?,
        }
    } else {
        skipped()
    };
    exports.insert("savings_proof".into(), status);

    // Realized savings.
    let r = &opts.realized_savings;
    let status = if r.included {
        match savings::realized_savings(store.as_ref(), &req.tenant_id, r).await {
            Ok((rows, more)) => {
                let body = json!({
                    "window": r.window,
                    "provider": r.provider,
                    "limit": r.limit,
                    "truncated": more,
                    "rows": rows.iter().map(savings::realized_json).collect::<Vec<_>>(),
                });
                zip.json("exports/realized-savings.json", &body).await?;
                let mut csv = Vec::new();
                csv_record(&mut csv, &savings::REALIZED_COLUMNS);
                for row in &rows {
                    csv_record(&mut csv, &savings::realized_csv(row));
                }
                zip.file("exports/realized-savings.csv", &csv).await?;
                counts.insert("realized_savings".into(), json!(rows.len()));
                truncated.insert("realized_savings".into(), json!(more));
                ok_status(&[
                    "exports/realized-savings.json",
                    "exports/realized-savings.csv",
                ])
            }
            Err(e) => error_file(&mut zip, "realized-savings", &e.to_string()).await?,
        }
    } else {
        skipped()
    };
    exports.insert("realized_savings".into(), status);

    // Close package.
    let c = &opts.close_package;
    let status = if c.included {
        match close::close_package(store.as_ref(), &req.tenant_id, c).await {
            Ok((package, lines)) => {
                counts.insert(
                    "close_package_restatements".into(),
                    package["restatements"]["included_count"].clone(),
                );
                truncated.insert(
                    "close_package_restatements".into(),
                    package["restatements"]["truncated"].clone(),
                );
                zip.json("exports/close-package.json", &package).await?;
                zip.file("exports/close-package.csv", &csv_bytes(&lines))
                    .await?;
                let mut st =
                    ok_status(&["exports/close-package.json", "exports/close-package.csv"]);
                st["close_status"] = package["close_status"].clone();
                st["integrity_hash"] = package["integrity_hash"].clone();
                st
            }
            Err(e) => error_file(&mut zip, "close-package", &e.to_string()).await?,
        }
    } else {
        skipped()
    };
    exports.insert("close_package".into(), status);

    // The proof: the range's events (every row and entry above refers to
    // one), its checkpoints and keys; then the two pages that explain it.
    let range = Range::cover(csv_range, evidence_range);
    let proof = proof::write(
        &mut zip,
        audit,
        signer,
        &req.tenant_id,
        range,
        req.generated_at,
    )
    .await?;
    zip.file(
        verify_md::VERIFY_PATH,
        verify_md::render(&req.tenant_id, &req.run_id).as_bytes(),
    )
    .await?;
    let generated_at = crate::focus::format_time(&req.generated_at);
    let html = report::render(&ReportInput {
        tenant_id: &req.tenant_id,
        generated_at: &generated_at,
        run_id: &req.run_id,
        period: (
            opts.start_date.map(|d| crate::focus::format_time(&d)),
            opts.end_date.map(|d| crate::focus::format_time(&d)),
        ),
        verification: &verification,
        proof: &proof,
        evidence: evidence.as_array().map(Vec::as_slice).unwrap_or_default(),
        spend: spend.as_ref(),
    });
    zip.file(report::REPORT_PATH, html.as_bytes()).await?;

    let actor = match &req.actor {
        Actor::User { user_id, email } => json!({"user_id": user_id, "email": email}),
        other => serde_json::to_value(other).unwrap_or_default(),
    };
    let manifest = json!({
        "pack_version": PACK_VERSION,
        "generated_at": crate::focus::format_time(&req.generated_at),
        "run_id": req.run_id,
        "tenant_id": req.tenant_id,
        "tier": req.tier,
        "actor": actor,
        "environment": req.environment,
        "focus_version": crate::focus::FOCUS_VERSION,
        "options": opts,
        "files": zip.files(),
        "row_counts": counts,
        "truncated": truncated,
        "exports": exports,
        "audit_chain_head": head_json,
        "audit_chain_verified": chain_verified,
        "audit_range": proof.manifest_range(),
        "last_checkpoint": proof.manifest_last_checkpoint(),
        "signing_key": proof.key.id(),
        "notes": [
            "VERIFY.md shows how to check this pack with sha256sum, openssl and a shell; valdrix verify-pack checks the same.",
            "audit/events.jsonl holds every audit event from audit_range.from_seq to to_seq; each row of audit_log.csv and each evidence entry is one of them.",
            "audit_chain_verified is the tenant's whole chain as the export verified it, from event 1 to to_seq (audit_chain.json has the walk's figures).",
            "Secrets are never exported: notification settings show has_* flags only.",
            "Every file but this manifest is listed under files with its size and SHA-256 (of the uncompressed content).",
            "A truncated flag is true only when rows were left out by a limit.",
            "CSV text cells starting with = + - @ TAB or CR are prefixed with a single quote; numeric columns hold plain decimals.",
            "An optional export that failed is replaced by exports/<name>.error.json and has status error under exports.",
        ],
    });
    zip.json("manifest.json", &manifest).await?;
    // The manifest is not listed in itself; SHA256SUMS lists it, and is signed.
    proof::sums(&mut zip, signer).await?;
    let (bytes, sha256) = zip.finish().await?;
    Ok(PackResult {
        bytes,
        sha256,
        manifest,
    })
}

fn skipped() -> Value {
    json!({"included": false, "status": "skipped", "error": null, "files": []})
}

fn ok_status(files: &[&str]) -> Value {
    json!({"included": true, "status": "ok", "error": null, "files": files})
}

async fn error_file(zip: &mut ZipOut<'_>, name: &str, error: &str) -> Result<Value, PackError> {
    let path = format!("exports/{name}.error.json");
    zip.json(
        &path,
        &json!({"status": "error", "export": name, "error": error}),
    )
    .await?;
    Ok(json!({"included": true, "status": "error", "error": error, "files": [path]}))
}

fn csv_bytes(lines: &[Vec<String>]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        csv_record(&mut out, line);
    }
    out
}

pub(super) const AUDIT_COLUMNS: [&str; 11] = [
    "id",
    "seq",
    "event_type",
    "timestamp",
    "actor_kind",
    "actor_user_id",
    "actor_email",
    "resource",
    "request_id",
    "success",
    "hash",
];

/// Rows written, whether a limit cut rows, and the seqs the rows span.
async fn audit_log_csv(
    zip: &mut ZipOut<'_>,
    audit: &AuditLog,
    req: &PackRequest,
) -> Result<(u64, bool, Option<Range>), PackError> {
    let opts = &req.options;
    zip.start("audit_log.csv")?;
    let mut buf = Vec::new();
    csv_record(&mut buf, &AUDIT_COLUMNS);
    let (mut written, mut more) = (0u64, false);
    let mut range: Option<Range> = None;
    let mut cursor = None;
    'pages: loop {
        let (events, next) = audit.page(&req.tenant_id, 500, cursor, true).await?;
        let page_start = written;
        for e in events {
            let t = DateTime::parse_from_rfc3339(&e.timestamp)
                .map(|t| t.with_timezone(&Utc))
                .ok();
            if let (Some(t), Some(end)) = (t, opts.end_date)
                && t > end
            {
                continue;
            }
            if let (Some(t), Some(start)) = (t, opts.start_date)
                && t < start
            {
                break 'pages;
            }
            if Some(written) == opts.audit_max_rows {
                more = true;
                break 'pages;
            }
            csv_record(&mut buf, &audit_cells(&e));
            range = Range::cover(range, Some(Range::of(e.seq)));
            written += 1;
        }
        zip.write(&buf)?;
        buf.clear();
        zip.pump().await?;
        req.progress.add(written - page_start);
        in_time(req)?;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    zip.write(&buf)?;
    zip.end()?;
    zip.pump().await?;
    Ok((written, more, range))
}

/// An event as a row of audit_log.csv.
pub(super) fn audit_cells(e: &AuditEvent) -> Vec<String> {
    let t = |s: &str| csv_safe::text(s).into_owned();
    let (kind, user_id, email) = match &e.actor {
        Actor::User { user_id, email } => ("user", t(user_id), t(email)),
        Actor::System => ("system", String::new(), String::new()),
        Actor::AdminKey => ("admin-key", String::new(), String::new()),
    };
    vec![
        t(&e.id),
        e.seq.to_string(),
        t(&e.event_type),
        t(&e.timestamp),
        kind.into(),
        user_id,
        email,
        e.resource.as_deref().map(t).unwrap_or_default(),
        e.request_id.as_deref().map(t).unwrap_or_default(),
        e.success.to_string(),
        t(&e.hash),
    ]
}

/// The newest `limit` events whose type starts with `evidence.`, and whether
/// more exist.
async fn evidence(
    audit: &AuditLog,
    tenant_id: &str,
    limit: u32,
) -> Result<(Vec<Value>, bool), PackError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (events, next) = audit.page(tenant_id, 500, cursor, true).await?;
        for e in events
            .into_iter()
            .filter(|e| e.event_type.starts_with("evidence."))
        {
            if out.len() == limit as usize {
                return Ok((out, true));
            }
            out.push(evidence_entry(&e));
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok((out, false)),
        }
    }
}

/// An evidence event as an entry of integration_acceptance_evidence.json.
pub(super) fn evidence_entry(e: &AuditEvent) -> Value {
    json!({
        "event_id": e.id,
        "seq": e.seq,
        "event_type": e.event_type,
        "timestamp": e.timestamp,
        "success": e.success,
        "actor": e.actor,
        "resource": e.resource,
        "request_id": e.request_id,
        "run_id": e.details.get("run_id").cloned().unwrap_or(Value::Null),
        "details": e.details,
    })
}

/// The FOCUS CSV, deflated into a temporary file on a thread of its own while
/// the rows are read: (the spool, rows, truncated, the report's spend totals
/// of exactly those rows).
async fn focus_spool(
    store: &DynStore,
    req: &PackRequest,
) -> Result<(Spooled, u64, bool, Spend), PackError> {
    let (tenant_id, f) = (&req.tenant_id, &req.options.focus_export);
    let mut spool = Spool::start()?;
    let mut buf = Vec::with_capacity(SPOOL_CHUNK + 64 * 1024);
    csv_record(&mut buf, &focus::header());
    let (mut rows, mut more) = (0u64, false);
    let mut spend = Spend::default();
    // The next page is read while this one is formatted (the store's read
    // and the rows' formatting overlap, as deflate does on the spool's thread).
    let range = f.window.range();
    let fetch = |cursor: Option<Cursor>| {
        let (store, tenant_id) = (store.clone(), tenant_id.clone());
        tokio::spawn(
            async move { query_ledger(store.as_ref(), &tenant_id, range, 1000, cursor).await },
        )
    };
    let mut pending = fetch(None);
    'pages: loop {
        let (page, next) = pending
            .await
            .map_err(|_| StoreError::Unavailable("the ledger read failed".into()))??;
        let ahead = next.map(|c| fetch(Some(c)));
        for row in &page {
            if (!f.include_preliminary && row.lifecycle == Lifecycle::Preliminary)
                || f.provider.as_ref().is_some_and(|p| *p != row.provider)
            {
                continue;
            }
            if Some(rows) == f.max_rows {
                more = true;
                break 'pages;
            }
            csv_record(&mut buf, &focus::record(row));
            spend.add(row);
            rows += 1;
            req.progress.add(1);
        }
        if buf.len() >= SPOOL_CHUNK {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(SPOOL_CHUNK + 64 * 1024));
            spool.write(full).await?;
        }
        in_time(req)?;
        match ahead {
            Some(read) => pending = read,
            None => break,
        }
    }
    spool.write(buf).await?;
    Ok((spool.finish().await?, rows, more, spend))
}
