//! The month-end close package: lifecycle totals of the window's ledger rows,
//! its restatements, a status and an integrity hash.
//!
//! `close_status` is `ready` when no preliminary row is in scope, else
//! `blocked_preliminary_data`; with `enforce_finalized` the latter is an
//! error (the pack then carries `close-package.error.json`). Amounts are
//! BilledCost sums per currency, never converted. `integrity_hash` is the
//! SHA-256 (hex) of the compact, key-sorted JSON of the package without the
//! `integrity_hash` key.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::csv_safe;
use super::options::CloseOptions;
use crate::audit::canonical_json;
use crate::ledger::{Lifecycle, Restatement, query_ledger, query_restatements};
use crate::store::Store;

pub const PACKAGE_VERSION: &str = "close-v1";

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(
        "cannot generate a final close package while {0} preliminary record(s) exist in the window; pass close_enforce_finalized=false for a draft"
    )]
    Preliminary(u64),
}

#[derive(Default)]
struct Totals {
    total: Decimal,
    preliminary: Decimal,
    final_: Decimal,
}

/// The package (JSON, with its hash) and its `section,key,value` CSV lines.
pub async fn close_package(
    store: &dyn Store,
    tenant_id: &str,
    opts: &CloseOptions,
) -> Result<(Value, Vec<Vec<String>>), CloseError> {
    let range = opts.window.range();
    let provider_ok = |p: &str| opts.provider.as_deref().is_none_or(|want| want == p);
    let (mut total, mut preliminary, mut final_) = (0u64, 0u64, 0u64);
    let mut by_currency: BTreeMap<String, Totals> = BTreeMap::new();
    let mut cursor = None;
    loop {
        let (rows, next) = query_ledger(store, tenant_id, range, 1000, cursor).await?;
        for row in rows.iter().filter(|r| provider_ok(&r.provider)) {
            total += 1;
            let t = by_currency.entry(row.currency.clone()).or_default();
            t.total += row.billed_cost;
            match row.lifecycle {
                Lifecycle::Preliminary => {
                    preliminary += 1;
                    t.preliminary += row.billed_cost;
                }
                Lifecycle::Final => {
                    final_ += 1;
                    t.final_ += row.billed_cost;
                }
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if opts.enforce_finalized && preliminary > 0 {
        return Err(CloseError::Preliminary(preliminary));
    }

    let max = opts
        .max_restatements
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut entries: Vec<Restatement> = Vec::new();
    let mut count = 0u64;
    let mut deltas: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut cursor = None;
    loop {
        let (rows, next) = query_restatements(store, tenant_id, range, 1000, cursor).await?;
        for r in rows.into_iter().filter(|r| provider_ok(&r.provider)) {
            count += 1;
            let d = deltas.entry(r.currency.clone()).or_default();
            d.0 += r.delta_billed_cost;
            d.1 += r.delta_billed_cost.abs();
            if entries.len() < max {
                entries.push(r);
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let close_status = if preliminary == 0 {
        "ready"
    } else {
        "blocked_preliminary_data"
    };
    let mut package = json!({
        "tenant_id": tenant_id,
        "provider": opts.provider,
        "period": opts.window,
        "close_status": close_status,
        "lifecycle": {
            "total_records": total,
            "preliminary_records": preliminary,
            "final_records": final_,
            "by_currency": by_currency.iter().map(|(c, t)| json!({
                "currency": c,
                "total_cost": t.total,
                "preliminary_cost": t.preliminary,
                "final_cost": t.final_,
            })).collect::<Vec<_>>(),
        },
        "restatements": {
            "count": count,
            "included_count": entries.len(),
            "truncated": (entries.len() as u64) < count,
            "by_currency": deltas.iter().map(|(c, (net, abs))| json!({
                "currency": c, "net_delta": net, "absolute_delta": abs,
            })).collect::<Vec<_>>(),
            "entries": entries,
        },
        "package_version": PACKAGE_VERSION,
    });
    let hash = hex::encode(Sha256::digest(canonical_json(&package)));
    package["integrity_hash"] = json!(hash);

    let t = |s: &str| csv_safe::text(s).into_owned();
    let mut lines = vec![vec!["section".into(), "key".into(), "value".into()]];
    let mut push = |section: &str, key: &str, value: String| {
        lines.push(vec![section.to_owned(), t(key), value]);
    };
    push("meta", "tenant_id", t(tenant_id));
    push("meta", "start_date", opts.window.start_date.to_string());
    push("meta", "end_date", opts.window.end_date.to_string());
    push(
        "meta",
        "provider",
        opts.provider.as_deref().map(t).unwrap_or_default(),
    );
    push("meta", "close_status", close_status.into());
    push("meta", "package_version", PACKAGE_VERSION.into());
    push("meta", "integrity_hash", hash);
    push("lifecycle", "total_records", total.to_string());
    push("lifecycle", "preliminary_records", preliminary.to_string());
    push("lifecycle", "final_records", final_.to_string());
    for (c, tot) in &by_currency {
        push(
            "lifecycle",
            &format!("total_cost_{c}"),
            csv_safe::number(&tot.total),
        );
        push(
            "lifecycle",
            &format!("preliminary_cost_{c}"),
            csv_safe::number(&tot.preliminary),
        );
        push(
            "lifecycle",
            &format!("final_cost_{c}"),
            csv_safe::number(&tot.final_),
        );
    }
    push("restatements", "count", count.to_string());
    push("restatements", "included_count", entries.len().to_string());
    for (c, (net, abs)) in &deltas {
        push(
            "restatements",
            &format!("net_delta_{c}"),
            csv_safe::number(net),
        );
        push(
            "restatements",
            &format!("absolute_delta_{c}"),
            csv_safe::number(abs),
        );
    }
    for r in &entries {
        push(
            "restatement",
            &format!("{}#{}", r.charge_date, r.line_id),
            t(&format!(
                "{} {} -> {} at {}",
                r.currency,
                r.old_billed_cost,
                r.new_billed_cost,
                crate::focus::format_time(&r.restated_at)
            )),
        );
    }
    Ok((package, lines))
}
