//! The FOCUS 1.2 cost-and-usage CSV writer (the schema: `crate::focus`):
//! every one of the 57 columns of v1.2 in specification order (Mandatory, Recommended and Conditional — a column we
//! cannot populate is present with empty cells, never dropped), then our own
//! columns with the `x_` prefix. Date/times are UTC `YYYY-MM-DDTHH:MM:SSZ`;
//! numbers are plain decimals (no exponent, no currency symbol); `Tags` and
//! `SkuPriceDetails` are compact JSON objects with sorted keys.

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

/// One CSV record for `row`, every cell already safe.
pub fn record(row: &LedgerRow) -> Vec<String> {
    let mut out = Vec::with_capacity(FOCUS_COLUMNS.len() + CUSTOM_COLUMNS.len());
    for column in &FOCUS_COLUMNS {
        out.push(cell(row, column));
    }
    out.push(csv_safe::text(&row.tenant_id).into_owned());
    out.push(csv_safe::text(&row.line_id).into_owned());
    out.push(row.lifecycle.as_str().to_owned());
    out.push(csv_safe::text(&row.provider).into_owned());
    out
}

fn cell(row: &LedgerRow, column: &FocusColumn) -> String {
    let text = |s: &str| csv_safe::text(s).into_owned();
    let opt = |s: &Option<String>| s.as_deref().map(text).unwrap_or_default();
    let extra = |id: &str| row.extra.get(id).cloned();
    match column.id {
        "BilledCost" => csv_safe::number(&row.billed_cost),
        "EffectiveCost" => csv_safe::number(&row.effective_cost),
        "ListCost" => csv_safe::number(&row.list_cost),
        "ContractedCost" => csv_safe::number(&row.contracted_cost),
        "PricingQuantity" => row
            .pricing_quantity
            .as_ref()
            .map(csv_safe::number)
            .unwrap_or_default(),
        "BillingAccountId" => text(&row.billing_account_id),
        "BillingAccountName" => opt(&row.billing_account_name),
        "BillingCurrency" => text(&row.currency),
        "BillingPeriodStart" => format_time(&row.billing_period_start),
        "BillingPeriodEnd" => format_time(&row.billing_period_end),
        "ChargePeriodStart" => format_time(&row.charge_period_start),
        "ChargePeriodEnd" => format_time(&row.charge_period_end),
        "ChargeCategory" => text(&row.charge_category),
        "ChargeClass" => opt(&row.charge_class),
        "ChargeDescription" => opt(&row.charge_description),
        "ChargeFrequency" => match &row.charge_frequency {
            Some(f) => text(f),
            None if matches!(row.charge_category.as_str(), "Usage" | "Tax") => "Usage-Based".into(),
            None => "One-Time".into(),
        },
        "PricingUnit" => opt(&row.pricing_unit),
        "ProviderName" => text(&row.provider_name),
        "PublisherName" | "InvoiceIssuerName" => {
            text(&extra(column.id).unwrap_or_else(|| row.provider_name.clone()))
        }
        "RegionId" => opt(&row.region_id),
        "RegionName" => text(
            &extra("RegionName")
                .or_else(|| row.region_id.clone())
                .unwrap_or_default(),
        ),
        "ResourceId" => opt(&row.resource_id),
        "ResourceType" => opt(&row.resource_type),
        "ServiceCategory" => text(&row.service_category),
        "ServiceName" => text(&row.service_name),
        "ServiceSubcategory" => text(
            &extra("ServiceSubcategory")
                .unwrap_or_else(|| format!("Other ({})", row.service_category)),
        ),
        "SubAccountId" => opt(&row.sub_account_id),
        "SubAccountName" => opt(&row.sub_account_name),
        "Tags" => {
            if row.tags.is_empty() {
                String::new()
            } else {
                let map: serde_json::Map<String, Value> = row
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                serde_json::to_string(&csv_safe::json(&Value::Object(map))).unwrap_or_default()
            }
        }
        id => match (extra(id), column.kind) {
            (None, _) => String::new(),
            (Some(v), Kind::Numeric) => match parse_decimal(&v) {
                Some(d) => csv_safe::number(&d),
                None => text(&v),
            },
            (Some(v), Kind::DateTime) => match parse_time(&v) {
                Some(t) => format_time(&t),
                None => text(&v),
            },
            (Some(v), Kind::Json) => match serde_json::from_str::<Value>(&v) {
                Ok(j @ Value::Object(_)) => {
                    serde_json::to_string(&csv_safe::json(&j)).unwrap_or_default()
                }
                _ => text(&v),
            },
            (Some(v), Kind::Text) => text(&v),
        },
    }
}
