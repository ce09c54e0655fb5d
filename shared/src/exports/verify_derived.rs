//! The files made from the chain, held to the events they came from: each
//! `audit_log.csv` row, each entry of `integration_acceptance_evidence.json`
//! and the head in `audit_chain.json` must be the exported event it names,
//! and the chain's verified range must agree with its verification and with
//! the manifest's `audit_chain_verified`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::pack::{AUDIT_COLUMNS, audit_cells, evidence_entry};
use super::verify::Failure;
use crate::audit::AuditEvent;

const CSV_PATH: &str = "audit_log.csv";
const EVIDENCE_PATH: &str = "integration_acceptance_evidence.json";
const CHAIN_PATH: &str = "audit_chain.json";
const MANIFEST_PATH: &str = "manifest.json";

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
    verified_range(files, &chain)
}

/// The verified range (packs since it was added) says what the verification
/// says, and the manifest says the same.
fn verified_range(files: &BTreeMap<String, Vec<u8>>, chain: &Value) -> Result<(), Failure> {
    let range = &chain["verified_range"];
    let manifest: Value = files
        .get(MANIFEST_PATH)
        .and_then(|d| serde_json::from_slice(d).ok())
        .unwrap_or_default();
    let claimed = &manifest["audit_chain_verified"];
    if range.is_null() && claimed.is_null() {
        return Ok(());
    }
    let to = range["verified_to"].as_u64();
    let consistent = range["verified_from"] == 1
        && match &chain["verification"] {
            v if v["ok"] == true => {
                range["ok"] == true
                    && range["complete"] == true
                    && to.is_some()
                    && v["head_seq"].as_u64() == to
                    && v["head_hash"] == range["head_hash"]
            }
            v if v["ok"] == false => {
                range["ok"] == false
                    && v["broken_at_seq"] == range["first_bad_seq"]
                    && v["broken_at_seq"].as_u64().map(|s| s.saturating_sub(1)) == to
            }
            _ => false,
        };
    if !consistent {
        return Err(file(
            CHAIN_PATH,
            "its verified range does not agree with its verification",
        ));
    }
    let expected = serde_json::json!({
        "from_seq": 1,
        "to_seq": to,
        "intact": range["ok"],
    });
    if *claimed != expected {
        return Err(file(
            MANIFEST_PATH,
            "its audit_chain_verified is not audit_chain.json's verified range",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(chain: &Value, claimed: &Value) -> BTreeMap<String, Vec<u8>> {
        let header = AUDIT_COLUMNS.join(",") + "\n";
        BTreeMap::from([
            (CSV_PATH.into(), header.into_bytes()),
            (EVIDENCE_PATH.into(), b"[]".to_vec()),
            (CHAIN_PATH.into(), chain.to_string().into_bytes()),
            (
                MANIFEST_PATH.into(),
                json!({"audit_chain_verified": claimed})
                    .to_string()
                    .into_bytes(),
            ),
        ])
    }

    fn intact(to: u64) -> Value {
        json!({
            "head": null,
            "verification": {"ok": true, "events_checked": to, "head_seq": to, "head_hash": "h"},
            "verified_range": {"ok": true, "verified_from": 1, "verified_to": to, "head_seq": to,
                "complete": true, "events_checked": to, "checkpoints_checked": 0, "head_hash": "h"},
        })
    }

    #[test]
    fn the_verified_range_agrees_with_the_verification_and_the_manifest() {
        let claimed = json!({"from_seq": 1, "to_seq": 7, "intact": true});
        assert_eq!(
            check(&files(&intact(7), &claimed), &BTreeMap::new()),
            Ok(())
        );

        let broken = json!({
            "head": null,
            "verification": {"ok": false, "broken_at_seq": 4, "reason": "r"},
            "verified_range": {"ok": false, "verified_from": 1, "verified_to": 3, "head_seq": 7,
                "complete": false, "events_checked": 3, "checkpoints_checked": 0,
                "first_bad_seq": 4, "reason": "r"},
        });
        let claimed = json!({"from_seq": 1, "to_seq": 3, "intact": false});
        assert_eq!(check(&files(&broken, &claimed), &BTreeMap::new()), Ok(()));

        // A pack from before the range: nothing to hold.
        let old = json!({"head": null, "verification": {"ok": true}});
        assert_eq!(check(&files(&old, &Value::Null), &BTreeMap::new()), Ok(()));
    }

    #[test]
    fn a_range_that_claims_more_than_was_verified_is_named() {
        let claimed = json!({"from_seq": 1, "to_seq": 7, "intact": true});
        let mut chain = intact(7);
        chain["verified_range"]["verified_to"] = json!(9);
        let failure = check(&files(&chain, &claimed), &BTreeMap::new()).unwrap_err();
        assert_eq!(
            failure,
            file(
                CHAIN_PATH,
                "its verified range does not agree with its verification"
            )
        );

        let claimed = json!({"from_seq": 1, "to_seq": 9, "intact": true});
        let failure = check(&files(&intact(7), &claimed), &BTreeMap::new()).unwrap_err();
        assert_eq!(
            failure,
            file(
                MANIFEST_PATH,
                "its audit_chain_verified is not audit_chain.json's verified range"
            )
        );
    }
}
