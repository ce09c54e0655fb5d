//! Metrics as CloudWatch embedded metric format (EMF): one JSON line on
//! stdout per event, which CloudWatch Logs turns into metrics in the
//! namespace `VALDRIX_METRICS_NAMESPACE` (the template sets
//! `Valdrix/<stack>`), with one dimension, `Service`. No agent, no API call:
//! the line is the metric, and the alarms of template.yaml watch them.
//!
//! Properties ride along for the logs (an event id, a run id), never as
//! dimensions, and never a secret.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

pub const NAMESPACE_VAR: &str = "VALDRIX_METRICS_NAMESPACE";
const DEFAULT_NAMESPACE: &str = "Valdrix";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Bytes,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
            Self::Bytes => "Bytes",
            Self::None => "None",
        }
    }
}

/// One metric's name, value and unit.
pub type Sample<'a> = (&'a str, f64, Unit);

/// The EMF document for `metrics` of `service`, with `properties`.
pub fn document(service: &str, metrics: &[Sample<'_>], properties: Map<String, Value>) -> Value {
    let namespace =
        crate::config::process::metrics_namespace().unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let mut doc = properties;
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Service"]],
                "Metrics": metrics.iter()
                    .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    doc.insert("Service".into(), json!(service));
    for (name, value, _) in metrics {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc)
}

/// Emit one EMF line.
pub fn emit(service: &str, metrics: &[Sample<'_>], properties: Map<String, Value>) {
    let doc = document(service, metrics, properties);
    if let Ok(mut captured) = CAPTURE.lock()
        && let Some(lines) = captured.as_mut()
    {
        lines.push(doc);
        return;
    }
    // One write of one line under the lock: lines from concurrent tasks never
    // interleave. A closed stdout (a parent that stopped reading) loses the
    // line, never the request: println! would panic.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{doc}");
}

/// A count of one, the common case.
pub fn count(service: &str, name: &str, properties: Map<String, Value>) {
    emit(service, &[(name, 1.0, Unit::Count)], properties);
}

/// Properties from `(key, value)` pairs.
pub fn props<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

static CAPTURE: Mutex<Option<Vec<Value>>> = Mutex::new(None);

/// Tests: keep every line this process emits from now on in memory instead
/// of printing it. Tests run in parallel, so each filters [`captured`] by a
/// property of its own (an event id, a tenant).
pub fn capture() {
    if let Ok(mut captured) = CAPTURE.lock() {
        captured.get_or_insert_with(Vec::new);
    }
}

/// Tests: the lines kept since [`capture`].
pub fn captured() -> Vec<Value> {
    CAPTURE
        .lock()
        .map(|c| c.clone().unwrap_or_default())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_a_valid_emf_document() {
        let doc = document(
            "dispatcher",
            &[("DeliveriesDead", 1.0, Unit::Count)],
            props([("event_id", json!("e-1"))]),
        );
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert!(doc["_aws"]["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(directive["Dimensions"], json!([["Service"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "DeliveriesDead", "Unit": "Count"}])
        );
        // Every dimension and metric named in the directive is a root member.
        assert_eq!(doc["Service"], "dispatcher");
        assert_eq!(doc["DeliveriesDead"], 1.0);
        assert_eq!(doc["event_id"], "e-1");
        assert!(
            directive["Namespace"]
                .as_str()
                .unwrap()
                .starts_with("Valdrix")
        );
    }
}
