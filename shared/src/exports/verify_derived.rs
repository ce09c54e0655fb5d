//! The files made from the chain, held to the events they came from: each
//! `audit_log.csv` row, each entry of `integration_acceptance_evidence.json`
//! and the head in `audit_chain.json` must be the exported event it names.

use std::collections::BTreeMap;

use serde_json::Value;

use super::pack::{AUDIT_COLUMNS, audit_cells, evidence_entry};
use super::verify::Failure;
use crate::audit::AuditEvent;

const CSV_PATH: &str = "audit_log.csv";
const EVIDENCE_PATH: &str = "integration_acceptance_evidence.json";
const CHAIN_PATH: &str = "audit_chain.json";

fn file(path: &str, reason: impl Into<String>) -> Failure {
    Failure::File {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

pub(super) fn check(
    files: &BTreeMap<String, Vec<u8>>,
    events: &BTreeMap<u64, AuditEvent>,
) -> Result<(), Failure> {
    let event = |path: &str, seq: u64| {
        events.get(&seq).ok_or_else(|| {
            file(
                path,
                format!("refers to event {seq}, which is not in the exported range"),
            )
        })
    };

    let csv_data = files
        .get(CSV_PATH)
        .ok_or_else(|| file(CSV_PATH, "is missing"))?;
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_data.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| file(CSV_PATH, format!("unreadable header ({e})")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header != AUDIT_COLUMNS {
        return Err(file(CSV_PATH, "its columns are not the documented ones"));
    }
    for (i, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| file(CSV_PATH, format!("row {} unreadable ({e})", i + 1)))?;
        let row: Vec<&str> = record.iter().collect();
        let seq: u64 = row
            .get(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| file(CSV_PATH, format!("row {} has no seq", i + 1)))?;
        if audit_cells(event(CSV_PATH, seq)?) != row {
            return Err(file(
                CSV_PATH,
                format!("its row of event {seq} differs from the event"),
            ));
        }
    }

    let evidence: Vec<Value> = files
        .get(EVIDENCE_PATH)
        .and_then(|d| serde_json::from_slice(d).ok())
        .ok_or_else(|| file(EVIDENCE_PATH, "is missing or not a JSON array"))?;
    for entry in &evidence {
        let seq = entry["seq"]
            .as_u64()
            .ok_or_else(|| file(EVIDENCE_PATH, "an entry has no seq"))?;
        if evidence_entry(event(EVIDENCE_PATH, seq)?) != *entry {
            return Err(file(
                EVIDENCE_PATH,
                format!("its entry of event {seq} differs from the event"),
            ));
        }
    }

    let chain: Value = files
        .get(CHAIN_PATH)
        .and_then(|d| serde_json::from_slice(d).ok())
        .ok_or_else(|| file(CHAIN_PATH, "is missing or not JSON"))?;
    if let Some(seq) = chain["head"]["seq"].as_u64()
        && let Some(e) = events.get(&seq)
        && chain["head"]["hash"].as_str() != Some(e.hash.as_str())
    {
        return Err(file(CHAIN_PATH, format!("its head is not event {seq}")));
    }
    Ok(())
}
