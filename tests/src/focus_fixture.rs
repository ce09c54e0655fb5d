//! Small FOCUS 1.2 cost files for tests.

/// The header the fixtures write (a subset of FOCUS 1.2 plus `x_CostLifecycle`).
pub const FOCUS_FIXTURE_HEADER: &str = "BilledCost,EffectiveCost,ListCost,ContractedCost,BillingAccountId,BillingAccountName,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeDescription,ProviderName,PublisherName,InvoiceIssuerName,ServiceName,ServiceCategory,RegionId,ResourceId,ResourceType,PricingQuantity,PricingUnit,SubAccountId,Tags,x_CostLifecycle";

/// One CSV line for the fixture header.
#[allow(clippy::too_many_arguments)]
pub fn focus_line(
    cost: &str,
    start: &str,
    end: &str,
    service: &str,
    category: &str,
    resource: &str,
    tags: &str,
    lifecycle: &str,
) -> String {
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!("\"{}\"", tags.replace('"', "\"\""))
    };
    format!(
        "{cost},{cost},{cost},{cost},123456789012,Main,USD,{start},{end},Usage,{service} usage,AWS,AWS,AWS,{service},{category},us-east-1,{resource},Instance,1.5,Hours,123456789012,{tags},{lifecycle}"
    )
}

/// A file of `lines` under the fixture header.
pub fn focus_csv(lines: &[String]) -> String {
    let mut out = String::from(FOCUS_FIXTURE_HEADER);
    out.push('\n');
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}
