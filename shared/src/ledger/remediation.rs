//! Recording a remediation (`POST /api/v1/admin/tenants/{id}/remediations`):
//! the operator's input checked field by field, then the record and its
//! audit event written together. The one home of that use case.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::model::{CostWindow, PROVIDERS, Remediation, RemediationStatus};
use super::repo::{get_remediation, put_remediation_op};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent};
use crate::store::StoreError;
use crate::tenancy;
use crate::validate::{self, FieldViolation};

/// Amounts are bounded far above any real figure and far below where the
/// pack's savings sums and `× 30` would overflow `Decimal` (a panic, a 500).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// The request body, as sent. Decimals and dates are read from their JSON
/// strings by the documented rule only (`Decimal`, `date` in openapi.yaml).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationInput {
    pub id: Option<String>,
    pub action: String,
    pub resource_id: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub status: String,
    #[serde(deserialize_with = "decimal")]
    pub estimated_monthly_savings: Decimal,
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "optional_date_time")]
    pub executed_at: Option<DateTime<Utc>>,
    pub baseline: Option<WindowInput>,
    pub measurement: Option<WindowInput>,
    #[serde(default, deserialize_with = "optional_decimal")]
    pub confidence_score: Option<Decimal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    #[serde(deserialize_with = "date")]
    pub start_date: NaiveDate,
    #[serde(deserialize_with = "date")]
    pub end_date: NaiveDate,
    #[serde(deserialize_with = "decimal")]
    pub avg_daily_cost: Decimal,
}

/// `-?digits(.digits)?`, at most 40 characters: no exponent, sign or spaces
/// that `Decimal`'s own parser would take (openapi.yaml's `Decimal`).
pub fn decimal_text(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, "1"));
    s.len() <= 40
        && !whole.is_empty()
        && !frac.is_empty()
        && whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
}

fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let text = String::deserialize(d)?;
    decimal_text(&text)
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| {
            serde::de::Error::custom(
                "must be a decimal number written as a string, e.g. \"120.50\"",
            )
        })
}

fn optional_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "decimal")] Decimal);
    Option::<Wrapped>::deserialize(d).map(|w| w.map(|Wrapped(v)| v))
}

fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = String::deserialize(d)?;
    validate::full_date(&text)
        .ok_or_else(|| serde::de::Error::custom("must be a date (YYYY-MM-DD)"))
}

fn optional_date_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| {
            validate::date_time(&text)
                .ok_or_else(|| serde::de::Error::custom("must be an RFC 3339 date-time"))
        })
        .transpose()
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid remediation")]
    Invalid(Vec<FieldViolation>),
    #[error("tenant {0} not found")]
    UnknownTenant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// The record, and whether it replaced an earlier one with its id.
pub struct Recorded {
    pub remediation: Remediation,
    pub replaced: bool,
}

/// Check `input`, then write the record and its `remediation.recorded` audit
/// event in one transaction. A known id replaces the record and keeps its
/// `created_at`.
pub async fn record(
    audit: &AuditLog,
    tenant_id: &str,
    input: RemediationInput,
    request_id: Option<String>,
) -> Result<Recorded, RecordError> {
    let store = audit.store();
    if tenancy::get_tenant(store, tenant_id).await?.is_none() {
        return Err(RecordError::UnknownTenant(tenant_id.to_owned()));
    }
    let checked = check(input).map_err(RecordError::Invalid)?;
    let existing = get_remediation(store, tenant_id, &checked.id).await?;
    let now = Utc::now();
    let remediation = Remediation {
        tenant_id: tenant_id.to_owned(),
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
        ..checked
    };
    let replaced = existing.is_some();
    audit
        .append_with(
            NewEvent {
                tenant_id: tenant_id.to_owned(),
                event_type: "remediation.recorded".into(),
                actor: Actor::AdminKey,
                request_id,
                resource: Some(format!("remediation/{}", remediation.id)),
                success: true,
                details: json!({
                    "status": remediation.status,
                    "provider": remediation.provider,
                    "replaced": replaced,
                }),
            },
            vec![put_remediation_op(&remediation)],
        )
        .await?;
    Ok(Recorded {
        remediation,
        replaced,
    })
}

/// Every field checked; a record with tenant and times still to fill in.
fn check(input: RemediationInput) -> Result<Remediation, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            errors.push(FieldViolation::new(field, message));
        }
    };
    let id = input.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    check(
        "id",
        validate::length(&id, 1, 128)
            .and_then(|()| validate::charset(&id, "-_.", "1-128 of A-Z a-z 0-9 - _ .")),
    );
    check("action", validate::text(&input.action, 1, 512));
    check("resource_id", validate::text(&input.resource_id, 1, 512));
    let provider = input.provider.to_ascii_lowercase();
    check("provider", self::provider(&input.provider));
    if let Some(account) = &input.account_id {
        check("account_id", account_id(account));
    }
    if let Some(region) = &input.region {
        check("region", self::region(region));
    }
    let status: Option<RemediationStatus> = serde_json::from_value(json!(input.status)).ok();
    if status.is_none() {
        check(
            "status",
            Err("must be one of proposed, pending, approved, executing, completed, failed, rejected".into()),
        );
    }
    let currency = input.currency.unwrap_or_else(|| "USD".into());
    check(
        "currency",
        (currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()))
            .then_some(())
            .ok_or_else(|| "must be an ISO 4217 code".into()),
    );
    check(
        "estimated_monthly_savings",
        amount(&input.estimated_monthly_savings),
    );
    let baseline = window("baseline", input.baseline, &mut errors);
    let measurement = window("measurement", input.measurement, &mut errors);
    if status == Some(RemediationStatus::Completed) && input.executed_at.is_none() {
        errors.push(FieldViolation::new(
            "executed_at",
            "is required when status is completed",
        ));
    }
    match status {
        Some(status) if errors.is_empty() => Ok(Remediation {
            id,
            tenant_id: String::new(),
            action: input.action,
            resource_id: input.resource_id,
            provider,
            account_id: input.account_id,
            region: input.region,
            status,
            estimated_monthly_savings: input.estimated_monthly_savings,
            currency,
            executed_at: input.executed_at,
            baseline,
            measurement,
            confidence_score: input.confidence_score,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }),
        _ => Err(errors),
    }
}

/// One of [`PROVIDERS`], in any case.
pub fn provider(v: &str) -> Result<(), String> {
    if PROVIDERS.contains(&v.to_ascii_lowercase().as_str()) {
        Ok(())
    } else {
        Err(format!(
            "must be one of {} (any case)",
            PROVIDERS.join(", ")
        ))
    }
}

/// A cloud account, subscription or project id.
pub fn account_id(v: &str) -> Result<(), String> {
    validate::length(v, 1, 128)
        .and_then(|()| validate::charset(v, "-_.:/", "1-128 of A-Z a-z 0-9 - _ . : /"))
}

pub fn region(v: &str) -> Result<(), String> {
    validate::length(v, 1, 64).and_then(|()| validate::charset(v, "-_", "1-64 of A-Z a-z 0-9 - _"))
}

fn amount(value: &Decimal) -> Result<(), String> {
    if value.abs() > Decimal::from(MAX_AMOUNT) {
        Err(format!("must be at most {MAX_AMOUNT} in absolute value"))
    } else {
        Ok(())
    }
}

fn window(
    field: &str,
    input: Option<WindowInput>,
    errors: &mut Vec<FieldViolation>,
) -> Option<CostWindow> {
    let w = input?;
    let before = errors.len();
    if let Err(m) = amount(&w.avg_daily_cost) {
        errors.push(FieldViolation::new(format!("{field}.avg_daily_cost"), m));
    } else if w.avg_daily_cost.is_sign_negative() {
        errors.push(FieldViolation::new(
            format!("{field}.avg_daily_cost"),
            "must not be negative",
        ));
    }
    if w.start_date > w.end_date {
        errors.push(FieldViolation::new(
            format!("{field}.start_date"),
            "must be <= end_date",
        ));
    }
    (errors.len() == before).then_some(CostWindow {
        start_date: w.start_date,
        end_date: w.end_date,
        avg_daily_cost: w.avg_daily_cost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_dates_take_only_the_documented_forms() {
        for ok in ["0", "120.50", "-3.1", "1000000000000"] {
            assert!(decimal_text(ok), "{ok}");
        }
        for bad in ["", "1e5", "+1", " 1", "1.", ".5", "1_000", "NaN", "--1"] {
            assert!(!decimal_text(bad), "{bad}");
        }
        let read = |s: &str| {
            serde_json::from_value::<WindowInput>(json!({
                "start_date": s, "end_date": "2024-01-31", "avg_daily_cost": "1"
            }))
        };
        assert!(read("2024-01-01").is_ok());
        for bad in [
            "2024-1-1",
            "+2024-01-01",
            "2024-01-01T00:00:00Z",
            "20240101",
            "2024-02-30",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
