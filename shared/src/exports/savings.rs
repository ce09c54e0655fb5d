//! Savings proof and realized savings, from remediation records.
//!
//! A remediation belongs to a window by `executed_at` (or `created_at` while it
//! has not run). Savings proof per provider and currency:
//! - `open_recommendations`: status proposed;
//! - `pending_remediations`: pending, approved or executing;
//! - `applied_recommendations`: executing or completed;
//! - `completed_remediations`: completed;
//! - `opportunity_monthly`: estimated monthly savings of what is not completed
//!   (failed and rejected count nowhere);
//! - `realized_monthly`: for completed ones, the measured
//!   `(baseline − measurement avg daily cost) × 30` when both windows are
//!   recorded, else the estimate ("prefers realized evidence, else estimates").
//!
//! Realized savings lists completed remediations with both windows whose
//! `executed_at` lies in the window, newest first, at most `limit`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use super::csv_safe;
use super::options::{RealizedOptions, SavingsOptions};
use crate::ledger::{Remediation, RemediationStatus, list_remediations};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Metrics {
    pub opportunity_monthly: Decimal,
    pub realized_monthly: Decimal,
    pub open_recommendations: u64,
    pub applied_recommendations: u64,
    pub pending_remediations: u64,
    pub completed_remediations: u64,
}

impl Metrics {
    fn add(&mut self, r: &Remediation) {
        use RemediationStatus::*;
        match r.status {
            Proposed => self.open_recommendations += 1,
            Pending | Approved => self.pending_remediations += 1,
            Executing => {
                self.pending_remediations += 1;
                self.applied_recommendations += 1;
            }
            Completed => {
                self.completed_remediations += 1;
                self.applied_recommendations += 1;
            }
            Failed | Rejected => {}
        }
        match r.status {
            Proposed | Pending | Approved | Executing => {
                self.opportunity_monthly += r.estimated_monthly_savings;
            }
            Completed => {
                self.realized_monthly += r
                    .realized_monthly_savings()
                    .unwrap_or(r.estimated_monthly_savings);
            }
            Failed | Rejected => {}
        }
    }

    fn csv_cells(&self) -> Vec<String> {
        vec![
            csv_safe::number(&self.opportunity_monthly.round_dp(2)),
            csv_safe::number(&self.realized_monthly.round_dp(2)),
            self.open_recommendations.to_string(),
            self.applied_recommendations.to_string(),
            self.pending_remediations.to_string(),
            self.completed_remediations.to_string(),
        ]
    }
}

fn when(r: &Remediation) -> DateTime<Utc> {
    r.executed_at.unwrap_or(r.created_at)
}

/// Every remediation of the tenant, page by page.
async fn for_each_remediation(
    store: &dyn Store,
    tenant_id: &str,
    mut f: impl FnMut(Remediation),
) -> Result<(), StoreError> {
    let mut cursor = None;
    loop {
        let (rows, next) = list_remediations(store, tenant_id, 500, cursor).await?;
        rows.into_iter().for_each(&mut f);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// The savings-proof summary (JSON) and its CSV lines.
pub async fn savings_proof(
    store: &dyn Store,
    tenant_id: &str,
    tier: &str,
    opts: &SavingsOptions,
    now: DateTime<Utc>,
) -> Result<(Value, Vec<Vec<String>>), StoreError> {
    let mut by: BTreeMap<(String, String), Metrics> = BTreeMap::new();
    let mut totals: BTreeMap<String, Metrics> = BTreeMap::new();
    for_each_remediation(store, tenant_id, |r| {
        if !opts.window.contains(&when(&r))
            || opts.provider.as_ref().is_some_and(|p| *p != r.provider)
        {
            return;
        }
        by.entry((r.provider.clone(), r.currency.clone()))
            .or_default()
            .add(&r);
        totals.entry(r.currency.clone()).or_default().add(&r);
    })
    .await?;
    let breakdown: Vec<Value> = by
        .iter()
        .map(|((provider, currency), m)| {
            let mut v = serde_json::to_value(m).unwrap_or_default();
            v["provider"] = json!(provider);
            v["currency"] = json!(currency);
            v
        })
        .collect();
    let totals_json: Vec<Value> = totals
        .iter()
        .map(|(currency, m)| {
            let mut v = serde_json::to_value(m).unwrap_or_default();
            v["currency"] = json!(currency);
            v
        })
        .collect();
    let summary = json!({
        "start_date": opts.window.start_date,
        "end_date": opts.window.end_date,
        "as_of": crate::focus::format_time(&now),
        "tier": tier,
        "provider": opts.provider,
        "totals": totals_json,
        "breakdown": breakdown,
        "notes": [
            "Realized savings prefer measured evidence ((baseline - measurement average daily cost) x 30); remediations without both windows count their estimate.",
            "Amounts are per currency and never converted.",
        ],
    });
    let mut lines = vec![
        [
            "provider",
            "currency",
            "opportunity_monthly",
            "realized_monthly",
            "open_recommendations",
            "applied_recommendations",
            "pending_remediations",
            "completed_remediations",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for ((provider, currency), m) in &by {
        let mut line = vec![
            csv_safe::text(provider).into_owned(),
            csv_safe::text(currency).into_owned(),
        ];
        line.extend(m.csv_cells());
        lines.push(line);
    }
    for (currency, m) in &totals {
        let mut line = vec!["TOTAL".to_owned(), csv_safe::text(currency).into_owned()];
        line.extend(m.csv_cells());
        lines.push(line);
    }
    Ok((summary, lines))
}

pub const REALIZED_COLUMNS: [&str; 17] = [
    "remediation_id",
    "action",
    "provider",
    "account_id",
    "resource_id",
    "region",
    "executed_at",
    "baseline_start_date",
    "baseline_end_date",
    "measurement_start_date",
    "measurement_end_date",
    "baseline_avg_daily_cost",
    "measurement_avg_daily_cost",
    "realized_monthly_savings",
    "currency",
    "confidence_score",
    "status",
];

/// Realized-savings rows (newest executed first, at most `limit`) and
/// whether more existed.
pub async fn realized_savings(
    store: &dyn Store,
    tenant_id: &str,
    opts: &RealizedOptions,
) -> Result<(Vec<Remediation>, bool), StoreError> {
    let limit = opts
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut kept: Vec<Remediation> = Vec::new();
    let mut truncated = false;
    let newest_first = |v: &mut Vec<Remediation>| {
        v.sort_by(|a, b| b.executed_at.cmp(&a.executed_at).then(a.id.cmp(&b.id)))
    };
    for_each_remediation(store, tenant_id, |r| {
        let in_window = r.executed_at.is_some_and(|t| opts.window.contains(&t));
        if r.status != RemediationStatus::Completed
            || !in_window
            || r.realized_monthly_savings().is_none()
            || opts.provider.as_ref().is_some_and(|p| *p != r.provider)
        {
            return;
        }
        kept.push(r);
        // Bounded memory: keep at most 2 × limit between trims.
        if kept.len() > limit.saturating_mul(2).max(1024) {
            newest_first(&mut kept);
            kept.truncate(limit + 1);
        }
    })
    .await?;
    newest_first(&mut kept);
    if kept.len() > limit {
        kept.truncate(limit);
        truncated = true;
    }
    Ok((kept, truncated))
}

pub fn realized_json(r: &Remediation) -> Value {
    json!({
        "remediation_id": r.id,
        "action": r.action,
        "provider": r.provider,
        "account_id": r.account_id,
        "resource_id": r.resource_id,
        "region": r.region,
        "executed_at": r.executed_at.as_ref().map(crate::focus::format_time),
        "baseline": r.baseline,
        "measurement": r.measurement,
        "realized_monthly_savings": r.realized_monthly_savings(),
        "currency": r.currency,
        "confidence_score": r.confidence_score,
        "status": r.status,
    })
}

pub fn realized_csv(r: &Remediation) -> Vec<String> {
    let t = |s: &str| csv_safe::text(s).into_owned();
    let o = |s: &Option<String>| s.as_deref().map(t).unwrap_or_default();
    let n = |d: Option<Decimal>| d.as_ref().map(csv_safe::number).unwrap_or_default();
    let (b, m) = (r.baseline.as_ref(), r.measurement.as_ref());
    vec![
        t(&r.id),
        t(&r.action),
        t(&r.provider),
        o(&r.account_id),
        t(&r.resource_id),
        o(&r.region),
        r.executed_at
            .as_ref()
            .map(crate::focus::format_time)
            .unwrap_or_default(),
        b.map(|w| w.start_date.to_string()).unwrap_or_default(),
        b.map(|w| w.end_date.to_string()).unwrap_or_default(),
        m.map(|w| w.start_date.to_string()).unwrap_or_default(),
        m.map(|w| w.end_date.to_string()).unwrap_or_default(),
        n(b.map(|w| w.avg_daily_cost)),
        n(m.map(|w| w.avg_daily_cost)),
        n(r.realized_monthly_savings()),
        t(&r.currency),
        n(r.confidence_score),
        serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    ]
}
