//! The FOCUS 1.2 cost-and-usage CSV: every one of the 57 columns of v1.2 in
//! specification order (Mandatory, Recommended and Conditional — a column we
//! cannot populate is present with empty cells, never dropped), then our own
//! columns with the `x_` prefix. Date/times are UTC `YYYY-MM-DDTHH:MM:SSZ`;
//! numbers are plain decimals (no exponent, no currency symbol); `Tags` and
//! `SkuPriceDetails` are compact JSON objects with sorted keys.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::csv_safe;
use crate::ledger::LedgerRow;
use crate::ledger::ingest::{parse_decimal, parse_time};

pub const FOCUS_VERSION: &str = "1.2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Mandatory,
    Recommended,
    Conditional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Numeric,
    DateTime,
    Json,
}

#[derive(Debug, Clone, Copy)]
pub struct FocusColumn {
    pub id: &'static str,
    pub level: Level,
    pub kind: Kind,
}

/// FOCUS v1.2's columns, as in `standards.md` §2.2.
pub const FOCUS_COLUMNS: [FocusColumn; 57] = [
    FocusColumn {
        id: "AvailabilityZone",
        level: Level::Recommended,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "BilledCost",
        level: Level::Mandatory,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "BillingAccountId",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "BillingAccountName",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "BillingAccountType",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "BillingCurrency",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "BillingPeriodEnd",
        level: Level::Mandatory,
        kind: Kind::DateTime,
    },
    FocusColumn {
        id: "BillingPeriodStart",
        level: Level::Mandatory,
        kind: Kind::DateTime,
    },
    FocusColumn {
        id: "CapacityReservationId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "CapacityReservationStatus",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ChargeCategory",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ChargeClass",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ChargeDescription",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ChargeFrequency",
        level: Level::Recommended,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ChargePeriodEnd",
        level: Level::Mandatory,
        kind: Kind::DateTime,
    },
    FocusColumn {
        id: "ChargePeriodStart",
        level: Level::Mandatory,
        kind: Kind::DateTime,
    },
    FocusColumn {
        id: "CommitmentDiscountCategory",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "CommitmentDiscountId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "CommitmentDiscountName",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "CommitmentDiscountQuantity",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "CommitmentDiscountStatus",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "CommitmentDiscountType",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "CommitmentDiscountUnit",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ConsumedQuantity",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "ConsumedUnit",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ContractedCost",
        level: Level::Mandatory,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "ContractedUnitPrice",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "EffectiveCost",
        level: Level::Mandatory,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "InvoiceId",
        level: Level::Recommended,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "InvoiceIssuerName",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ListCost",
        level: Level::Mandatory,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "ListUnitPrice",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "PricingCategory",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "PricingCurrency",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "PricingCurrencyContractedUnitPrice",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "PricingCurrencyEffectiveCost",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "PricingCurrencyListUnitPrice",
        level: Level::Conditional,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "PricingQuantity",
        level: Level::Mandatory,
        kind: Kind::Numeric,
    },
    FocusColumn {
        id: "PricingUnit",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ProviderName",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "PublisherName",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "RegionId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "RegionName",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ResourceId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ResourceName",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ResourceType",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ServiceCategory",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ServiceName",
        level: Level::Mandatory,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "ServiceSubcategory",
        level: Level::Recommended,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "SkuId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "SkuMeter",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "SkuPriceDetails",
        level: Level::Conditional,
        kind: Kind::Json,
    },
    FocusColumn {
        id: "SkuPriceId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "SubAccountId",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "SubAccountName",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "SubAccountType",
        level: Level::Conditional,
        kind: Kind::Text,
    },
    FocusColumn {
        id: "Tags",
        level: Level::Conditional,
        kind: Kind::Json,
    },
];

/// Our columns, after the FOCUS ones.
pub const CUSTOM_COLUMNS: [&str; 4] =
    ["x_TenantId", "x_LineId", "x_CostLifecycle", "x_ProviderKey"];

/// FOCUS 1.2 ServiceCategory allowed values.
pub const SERVICE_CATEGORIES: [&str; 19] = [
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
];

pub fn header() -> Vec<&'static str> {
    FOCUS_COLUMNS
        .iter()
        .map(|c| c.id)
        .chain(CUSTOM_COLUMNS)
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_list_matches_the_standard_counts() {
        let count = |l| FOCUS_COLUMNS.iter().filter(|c| c.level == l).count();
        assert_eq!(count(Level::Mandatory), 21);
        assert_eq!(count(Level::Conditional), 32);
        assert_eq!(count(Level::Recommended), 4);
        let mut ids: Vec<_> = FOCUS_COLUMNS.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 57);
        assert!(CUSTOM_COLUMNS.iter().all(|c| c.starts_with("x_")));
    }
}
