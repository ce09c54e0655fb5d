//! Audit-grade acceptance evidence: each integration check and each suite is
//! an audit event (hash-chained, redacted) with an `EVIDENCE#<seq>` index entry
//! written in the same transaction, so listing pages through evidence alone.

#[cfg(feature = "outbound")]
mod check;
#[cfg(feature = "outbound")]
pub mod passive;

#[cfg(feature = "outbound")]
pub use check::{ChannelCheck, Checker, Probe};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::audit::{Actor, AuditError, AuditEvent, AuditLog, Index, NewEvent};
use crate::deadline::Deadline;
use crate::metrics::Unit;
use crate::store::{Cursor, Item, Query, SortKey, Store};

const INDEX_PREFIX: &str = "EVIDENCE#";
pub const CHECK_EVENT: &str = "evidence.check";
pub const SUITE_EVENT: &str = "evidence.suite";
/// The `Service` dimension of the evidence metrics.
pub const METRICS_SERVICE: &str = "evidence";

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passed,
    Failed,
    Skipped,
}

/// One channel's check, as recorded and answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRecord {
    pub channel: String,
    pub status: CheckStatus,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub message: String,
    /// Per-target results (workflow checks have several).
    pub targets: Value,
}

pub struct Recorder<'a> {
    pub audit: &'a AuditLog,
    pub tenant_id: &'a str,
    pub run_id: &'a str,
    pub actor: Actor,
    pub request_id: Option<String>,
    /// `capture` or `passive`.
    pub mode: &'a str,
}

impl Recorder<'_> {
    fn index(&self, channel: &str) -> Index {
        let mut attributes = Map::new();
        attributes.insert("run_id".into(), self.run_id.into());
        attributes.insert("channel".into(), channel.into());
        Index {
            sk_prefix: INDEX_PREFIX.into(),
            attributes,
        }
    }

    fn check_event(&self, record: &CheckRecord) -> NewEvent {
        NewEvent {
            tenant_id: self.tenant_id.to_owned(),
            event_type: CHECK_EVENT.into(),
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            resource: Some(format!("integration/{}", record.channel)),
            success: record.status != CheckStatus::Failed,
            details: json!({
                "run_id": self.run_id, "mode": self.mode, "channel": record.channel,
                "status": record.status, "status_code": record.status_code,
                "latency_ms": record.latency_ms, "message": record.message, "targets": record.targets,
            }),
        }
    }

    /// Record a run: one event per check, then the suite event summing them
    /// up, all in one transaction, so an outage never leaves checks without
    /// their suite. `channels` are the channels the run was asked for.
    pub async fn run(
        &self,
        records: &[CheckRecord],
        channels: &[&str],
    ) -> Result<RecordedRun, AuditError> {
        let count = |s: CheckStatus| records.iter().filter(|r| r.status == s).count();
        let (passed, failed, skipped) = (
            count(CheckStatus::Passed),
            count(CheckStatus::Failed),
            count(CheckStatus::Skipped),
        );
        let overall_status = overall_status(passed, failed);
        let mut events: Vec<_> = records
            .iter()
            .map(|r| (self.check_event(r), Some(self.index(&r.channel))))
            .collect();
        let suite = NewEvent {
            tenant_id: self.tenant_id.to_owned(),
            event_type: SUITE_EVENT.into(),
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            resource: Some("integration/suite".into()),
            success: failed == 0 && passed > 0,
            details: json!({
                "passed": passed, "failed": failed, "skipped": skipped,
                "overall_status": overall_status, "channels": channels,
                "run_id": self.run_id, "mode": self.mode,
            }),
        };
        events.push((suite, Some(self.index("suite"))));
        let mut checks = self.audit.append_all(events, Vec::new()).await?;
        checks.pop(); // the suite event
        crate::metrics::emit(
            METRICS_SERVICE,
            &[
                ("EvidenceChecksFailed", failed as f64, Unit::Count),
                ("EvidenceChecksRun", records.len() as f64, Unit::Count),
            ],
            crate::metrics::props([
                ("run_id", json!(self.run_id)),
                ("mode", json!(self.mode)),
                ("tenant_id", json!(self.tenant_id)),
            ]),
        );
        Ok(RecordedRun {
            checks,
            passed,
            failed,
            skipped,
            overall_status,
        })
    }
}

/// What [`Recorder::run`] stored and counted.
#[derive(Debug)]
pub struct RecordedRun {
    /// The check events, in the order of the records.
    pub checks: Vec<AuditEvent>,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub overall_status: &'static str,
}

impl CheckRecord {
    /// A channel's check from its targets' results: passed only when every
    /// target succeeded; `verb` says what success meant ("succeeded", "healthy").
    #[cfg(feature = "outbound")]
    pub fn from_results(
        channel: &str,
        results: &[crate::notify::TargetResult],
        verb: &str,
    ) -> Self {
        use crate::notify::RunOutcome;
        let ok = results.iter().filter(|r| r.ok).count();
        Self {
            channel: channel.to_owned(),
            status: if RunOutcome::of(results) == RunOutcome::Success {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            },
            status_code: results
                .iter()
                .find(|r| !r.ok)
                .or(results.first())
                .and_then(|r| r.status_code),
            latency_ms: results.iter().map(|r| r.latency_ms).max().unwrap_or(0),
            message: format!("{ok}/{} target(s) {verb}", results.len()),
            targets: serde_json::to_value(results).unwrap_or_default(),
        }
    }

    pub fn skipped(channel: &str, message: String) -> Self {
        Self {
            channel: channel.to_owned(),
            status: CheckStatus::Skipped,
            status_code: None,
            latency_ms: 0,
            message,
            targets: json!([]),
        }
    }
}

/// `success` when nothing failed and something passed, `failed` when nothing
/// passed, `partial_failure` otherwise.
pub fn overall_status(passed: usize, failed: usize) -> &'static str {
    match (passed, failed) {
        (p, 0) if p > 0 => "success",
        (0, _) => "failed",
        _ => "partial_failure",
    }
}

/// One listed item.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceItem {
    pub event_id: String,
    pub seq: u64,
    pub run_id: String,
    pub channel: String,
    pub event_type: String,
    pub success: bool,
    pub status_code: Option<u64>,
    pub message: Option<String>,
    pub actor: Actor,
    pub timestamp: String,
    pub details: Value,
    pub hash: String,
}

#[derive(Debug, Default)]
pub struct Filter {
    pub run_id: Option<String>,
    pub channel: Option<String>,
}

/// Newest first, at most `limit`, from `cursor`; the next cursor when more
/// may follow. A filter that matches little may scan many index pages: at
/// `deadline` the page ends early (fewer items, a cursor to go on from).
pub async fn list(
    store: &dyn Store,
    audit: &AuditLog,
    tenant_id: &str,
    filter: &Filter,
    limit: u32,
    mut cursor: Option<Cursor>,
    deadline: Deadline,
) -> Result<(Vec<EvidenceItem>, Option<Cursor>), AuditError> {
    let mut items = Vec::new();
    loop {
        let mut query = Query::new(
            crate::audit::tenant_pk(tenant_id),
            SortKey::Prefix(INDEX_PREFIX.into()),
        );
        query.descending = true;
        query.limit = limit;
        query.cursor = cursor.take();
        let page = store.query(query).await?;
        let matches = |entry: &Item, attr: &str, want: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| entry.get(attr).and_then(Value::as_str) == Some(w))
        };
        let picked: Vec<(usize, &Item)> = page
            .items
            .iter()
            .enumerate()
            .filter(|(_, e)| matches(e, "run_id", &filter.run_id))
            .filter(|(_, e)| matches(e, "channel", &filter.channel))
            .take(limit as usize - items.len())
            .collect();
        let seqs = picked
            .iter()
            .map(|(_, entry)| entry.get("seq").and_then(Value::as_u64))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| AuditError::Malformed("evidence index".into()))?;
        // The page's events in one batch read, not a round trip each.
        let events = audit.events(tenant_id, &seqs).await?;
        for (((n, entry), event), seq) in picked.iter().zip(events).zip(&seqs) {
            let event = event.ok_or_else(|| AuditError::Malformed(format!("evidence {seq}")))?;
            items.push(item(event, entry));
            if items.len() as u32 == limit {
                // Stop here; the next page starts after this entry.
                let more = n + 1 < page.items.len() || page.next_cursor.is_some();
                let next = more.then(|| cursor_at(entry)).flatten();
                return Ok((items, next));
            }
        }
        match page.next_cursor {
            Some(next) if deadline.passed() => return Ok((items, Some(next))),
            Some(next) => cursor = Some(next),
            None => return Ok((items, None)),
        }
    }
}

fn cursor_at(entry: &Item) -> Option<Cursor> {
    Some(Cursor {
        pk: entry.get("pk")?.as_str()?.to_owned(),
        sk: entry.get("sk")?.as_str()?.to_owned(),
    })
}

fn item(event: AuditEvent, entry: &Item) -> EvidenceItem {
    let text = |k: &str| {
        entry
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    EvidenceItem {
        event_id: event.id,
        seq: event.seq,
        run_id: text("run_id"),
        channel: text("channel"),
        event_type: event.event_type,
        success: event.success,
        status_code: event.details.get("status_code").and_then(Value::as_u64),
        message: event
            .details
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        actor: event.actor,
        timestamp: event.timestamp,
        details: event.details,
        hash: event.hash,
    }
}
