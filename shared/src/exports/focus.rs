//! The FOCUS 1.2 cost-and-usage CSV writer (the schema: `crate::focus`):
//! every one of the 57 columns of v1.2 in specification order (Mandatory, Recommended and Conditional — a column we
//! cannot populate is present with empty cells, never dropped), then our own
//! columns with the `x_` prefix. Date/times are UTC `YYYY-MM-DDTHH:MM:SSZ`;
//! numbers are plain decimals (no exponent, no currency symbol); `Tags` and
//! `SkuPriceDetails` are compact JSON objects with sorted keys.

use std::borrow::Cow;

use serde_json::Value;

use super::csv_safe;
use crate::focus::{
    CUSTOM_COLUMNS, FOCUS_COLUMNS, FocusColumn, Kind, format_time, parse_decimal, parse_time,
};
use crate::ledger::LedgerRow;

pub fn header() -> Vec<&'static str> {
    FOCUS_COLUMNS
        .iter()
        .map(|c| c.id)
        .chain(CUSTOM_COLUMNS)
        .collect()
}

/// One CSV record for `row`, every cell already safe. Cells borrow from the
/// row where they can: an export writes millions of records, ~60 cells each.
pub fn record(row: &LedgerRow) -> Vec<Cow<'_, str>> {
    let mut out = Vec::with_capacity(FOCUS_COLUMNS.len() + CUSTOM_COLUMNS.len());
    for column in &FOCUS_COLUMNS {
        out.push(cell(row, column));
    }
    out.push(csv_safe::text(&row.tenant_id));
    out.push(csv_safe::text(&row.line_id));
    out.push(Cow::Borrowed(row.lifecycle.as_str()));
    out.push(csv_safe::text(&row.provider));
    out
}

fn cell<'r>(row: &'r LedgerRow, column: &FocusColumn) -> Cow<'r, str> {
    let text = |s: &'r str| csv_safe::text(s);
    let opt = |s: &'r Option<String>| s.as_deref().map(text).unwrap_or_default();
    let extra = |id: &str| row.extra.get(id).map(String::as_str);
    let owned = |s: String| Cow::Owned(s);
    match column.id {
        "BilledCost" => owned(csv_safe::number(&row.billed_cost)),
        "EffectiveCost" => owned(csv_safe::number(&row.effective_cost)),
        "ListCost" => owned(csv_safe::number(&row.list_cost)),
        "ContractedCost" => owned(csv_safe::number(&row.contracted_cost)),
        "PricingQuantity" => row
            .pricing_quantity
            .as_ref()
            .map(|q| owned(csv_safe::number(q)))
            .unwrap_or_default(),
        "BillingAccountId" => text(&row.billing_account_id),
        "BillingAccountName" => opt(&row.billing_account_name),
        "BillingCurrency" => text(&row.currency),
        "BillingPeriodStart" => owned(format_time(&row.billing_period_start)),
        "BillingPeriodEnd" => owned(format_time(&row.billing_period_end)),
        "ChargePeriodStart" => owned(format_time(&row.charge_period_start)),
        "ChargePeriodEnd" => owned(format_time(&row.charge_period_end)),
        "ChargeCategory" => text(&row.charge_category),
        "ChargeClass" => opt(&row.charge_class),
        "ChargeDescription" => opt(&row.charge_description),
        "ChargeFrequency" => match &row.charge_frequency {
            Some(f) => text(f),
            None if matches!(row.charge_category.as_str(), "Usage" | "Tax") => {
                Cow::Borrowed("Usage-Based")
            }
            None => Cow::Borrowed("One-Time"),
        },
        "PricingUnit" => opt(&row.pricing_unit),
        "ProviderName" => text(&row.provider_name),
        "PublisherName" | "InvoiceIssuerName" => {
            text(extra(column.id).unwrap_or(&row.provider_name))
        }
        "RegionId" => opt(&row.region_id),
        "RegionName" => text(
            extra("RegionName")
                .or(row.region_id.as_deref())
                .unwrap_or_default(),
        ),
        "ResourceId" => opt(&row.resource_id),
        "ResourceType" => opt(&row.resource_type),
        "ServiceCategory" => text(&row.service_category),
        "ServiceName" => text(&row.service_name),
        "ServiceSubcategory" => match extra("ServiceSubcategory") {
            Some(v) => text(v),
            None => {
                owned(csv_safe::text(&format!("Other ({})", row.service_category)).into_owned())
            }
        },
        "SubAccountId" => opt(&row.sub_account_id),
        "SubAccountName" => opt(&row.sub_account_name),
        "Tags" => {
            if row.tags.is_empty() {
                Cow::Borrowed("")
            } else {
                let map: serde_json::Map<String, Value> = row
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                owned(
                    serde_json::to_string(&csv_safe::json(&Value::Object(map))).unwrap_or_default(),
                )
            }
        }
        id => match (extra(id), column.kind) {
            (None, _) => Cow::Borrowed(""),
            (Some(v), Kind::Numeric) => match parse_decimal(v) {
                Some(d) => owned(csv_safe::number(&d)),
                None => text(v),
            },
            (Some(v), Kind::DateTime) => match parse_time(v) {
                Some(t) => owned(format_time(&t)),
                None => text(v),
            },
            (Some(v), Kind::Json) => match serde_json::from_str::<Value>(v) {
                Ok(j @ Value::Object(_)) => {
                    owned(serde_json::to_string(&csv_safe::json(&j)).unwrap_or_default())
                }
                _ => text(v),
            },
            (Some(v), Kind::Text) => text(v),
        },
    }
}
