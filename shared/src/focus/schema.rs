//! FOCUS 1.2's schema as Valdrix uses it: the 57 columns of v1.2 in
//! specification order with their level and kind, our own `x_` columns, and
//! the allowed ServiceCategory values. Read by the importer (`ledger::ingest`)
//! and the exporter (`exports::focus`) alike.

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
