//! Ledger, restatement and remediation records.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Provider keys the exports filter on.
pub const PROVIDERS: [&str; 7] = [
    "aws", "azure", "gcp", "hybrid", "license", "platform", "saas",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Preliminary,
    Final,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preliminary => "preliminary",
            Self::Final => "final",
        }
    }
}

/// One cost line of one tenant. Field names follow FOCUS 1.2 in snake case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub line_id: String,
    pub tenant_id: String,
    /// The UTC date of `charge_period_start`; the sort key's date.
    pub charge_date: NaiveDate,
    pub charge_period_start: DateTime<Utc>,
    pub charge_period_end: DateTime<Utc>,
    pub billing_period_start: DateTime<Utc>,
    pub billing_period_end: DateTime<Utc>,
    /// One of [`PROVIDERS`].
    pub provider: String,
    /// FOCUS ProviderName as the source wrote it.
    pub provider_name: String,
    pub billing_account_id: String,
    pub billing_account_name: Option<String>,
    pub sub_account_id: Option<String>,
    pub sub_account_name: Option<String>,
    pub service_name: String,
    pub service_category: String,
    pub region_id: Option<String>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub charge_category: String,
    pub charge_class: Option<String>,
    pub charge_frequency: Option<String>,
    pub charge_description: Option<String>,
    pub pricing_quantity: Option<Decimal>,
    pub pricing_unit: Option<String>,
    pub billed_cost: Decimal,
    pub effective_cost: Decimal,
    pub list_cost: Decimal,
    pub contracted_cost: Decimal,
    /// ISO 4217 (FOCUS BillingCurrency).
    pub currency: String,
    #[serde(default)]
    pub tags: BTreeMap<String, Value>,
    pub lifecycle: Lifecycle,
    /// Other FOCUS 1.2 columns the source carried, verbatim, by column id.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// The ingest run that last wrote the row (not part of its content).
    #[serde(default)]
    pub ingest_run: String,
    /// The line of the file that run wrote it from (not part of its content):
    /// a run resumed after a crash tells its own earlier write of this line
    /// (a replay) from a second row with the same key (a duplicate).
    #[serde(default)]
    pub ingest_line: u64,
}

impl LedgerRow {
    /// Same content, ignoring which run wrote it.
    pub fn same_content(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.ingest_run.clear();
        a.ingest_line = 0;
        let mut b = other.clone();
        b.ingest_run.clear();
        b.ingest_line = 0;
        a == b
    }
}

/// The stable id of a cost line: the first 128 bits of SHA-256 over its
/// natural key (fields joined with U+001F).
pub fn line_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0x1f]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// Map a FOCUS ProviderName (or a provider key) to one of [`PROVIDERS`].
pub fn provider_key(provider_name: &str) -> String {
    let p = provider_name.trim().to_ascii_lowercase();
    let key = match p.as_str() {
        "aws" | "amazon web services" | "amazon" | "amazon web services, inc." => "aws",
        "azure" | "microsoft azure" | "microsoft" => "azure",
        "gcp" | "google cloud" | "google cloud platform" | "google" => "gcp",
        "hybrid" => "hybrid",
        "license" => "license",
        "platform" => "platform",
        _ => "saas",
    };
    key.to_owned()
}

/// When a final row's content changed: what it was, what it became, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restatement {
    pub line_id: String,
    pub charge_date: NaiveDate,
    pub provider: String,
    pub currency: String,
    pub old_billed_cost: Decimal,
    pub new_billed_cost: Decimal,
    pub old_effective_cost: Decimal,
    pub new_effective_cost: Decimal,
    /// new_billed_cost − old_billed_cost.
    pub delta_billed_cost: Decimal,
    pub old_lifecycle: Lifecycle,
    pub new_lifecycle: Lifecycle,
    /// Names of the fields whose value changed.
    pub changed_fields: Vec<String>,
    pub restated_at: DateTime<Utc>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStatus {
    Proposed,
    Pending,
    Approved,
    Executing,
    Completed,
    Failed,
    Rejected,
}

/// A window of days and the average daily cost over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostWindow {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub avg_daily_cost: Decimal,
}

/// A remediation: the input of savings proof and realized savings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    pub id: String,
    pub tenant_id: String,
    pub action: String,
    pub resource_id: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub status: RemediationStatus,
    pub estimated_monthly_savings: Decimal,
    pub currency: String,
    pub executed_at: Option<DateTime<Utc>>,
    pub baseline: Option<CostWindow>,
    pub measurement: Option<CostWindow>,
    pub confidence_score: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Remediation {
    /// Realized monthly savings, `(baseline − measurement) × 30`, when both
    /// windows are recorded.
    pub fn realized_monthly_savings(&self) -> Option<Decimal> {
        let (b, m) = (self.baseline.as_ref()?, self.measurement.as_ref()?);
        Some((b.avg_daily_cost - m.avg_daily_cost) * Decimal::from(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_id_is_stable_and_separates_fields() {
        assert_eq!(line_id(&["a", "b"]), line_id(&["a", "b"]));
        assert_ne!(line_id(&["ab", ""]), line_id(&["a", "b"]));
        assert_eq!(line_id(&["x"]).len(), 32);
    }

    #[test]
    fn provider_names_map_to_keys() {
        assert_eq!(provider_key("AWS"), "aws");
        assert_eq!(provider_key("Amazon Web Services"), "aws");
        assert_eq!(provider_key("Microsoft Azure"), "azure");
        assert_eq!(provider_key("Google Cloud"), "gcp");
        assert_eq!(provider_key("Datadog"), "saas");
    }
}
