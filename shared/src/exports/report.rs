//! `index.html`: the pack for a person. One self-contained page (inline CSS
//! and SVG, no script, a policy that forbids any fetch) with the tenant, the
//! period, the verification status, evidence runs per channel and day, the
//! policy events and their deliveries, and spend by service and month. Each
//! section names the file its numbers come from and how they were counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;

use super::proof::{EVENTS_PATH, Proof, key_path, statement_path};
use crate::audit::{AuditEvent, Verification};
use crate::ledger::LedgerRow;

pub const REPORT_PATH: &str = "index.html";

/// BilledCost summed by (currency, month of ChargePeriodStart, ServiceName):
/// the rows of the FOCUS CSV, counted as they are written.
#[derive(Debug, Default, Clone)]
pub struct Spend(pub BTreeMap<(String, String, String), Decimal>);

impl Spend {
    pub fn add(&mut self, row: &LedgerRow) {
        let key = (
            row.currency.clone(),
            row.charge_period_start.format("%Y-%m").to_string(),
            row.service_name.clone(),
        );
        *self.0.entry(key).or_default() += row.billed_cost;
    }
}

/// Everything the page shows.
pub struct ReportInput<'a> {
    pub tenant_id: &'a str,
    pub generated_at: &'a str,
    pub run_id: &'a str,
    pub period: (Option<String>, Option<String>),
    pub verification: &'a Verification,
    pub proof: &'a Proof,
    /// integration_acceptance_evidence.json's entries.
    pub evidence: &'a [Value],
    /// `None` when the FOCUS export was not included (or failed).
    pub spend: Option<&'a Spend>,
}

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A sum as the page prints it: exact, without trailing zeros.
pub fn amount(d: Decimal) -> String {
    d.normalize().to_string()
}

const STYLE: &str = "body{font:15px/1.45 'DejaVu Sans',Arial,sans-serif;color:#1d2733;margin:0;background:#f4f6f8}\
main{max-width:1040px;margin:0 auto;padding:24px}\
header{background:#14324f;color:#fff;padding:20px 24px}header h1{margin:0 0 8px;font-size:24px}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.facts dt{opacity:.75}dl.facts dd{margin:0}\
section{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:16px 20px;margin:16px 0}\
h2{font-size:18px;margin:0 0 10px}p.source{font-size:12px;color:#5b6773;margin:8px 0 0}\
table{border-collapse:collapse;width:100%;margin-top:8px;font-size:13px}th,td{border-bottom:1px solid #e3e7eb;padding:4px 8px;text-align:left;vertical-align:top}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#176d2c}.bad{color:#b3261e}\
.status{font-size:17px;font-weight:bold;padding:8px 12px;border-radius:4px}.status.ok{background:#e5f4e9}.status.bad{background:#fbe9e7}\
code{font-size:12px;word-break:break-all}svg{display:block;margin:8px 0}";

pub fn render(r: &ReportInput<'_>) -> String {
    let mut h = String::new();
    let title = format!("Compliance pack: {}", esc(r.tenant_id));
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n"
    );
    let period = match &r.period {
        (None, None) => "all events".to_owned(),
        (from, to) => format!(
            "{} to {}",
            esc(from.as_deref().unwrap_or("the first event")),
            esc(to.as_deref().unwrap_or("the export"))
        ),
    };
    let range = match r.proof.range {
        Some(x) => format!(
            "audit events {} to {} ({} events)",
            x.from,
            x.to,
            x.to - x.from + 1
        ),
        None => "no audit events".into(),
    };
    let _ = writeln!(
        h,
        "<header><h1>{title}</h1><dl class=\"facts\"><dt>Tenant</dt><dd id=\"tenant\">{}</dd>\
         <dt>Period</dt><dd id=\"period\">{period}; {range}</dd><dt>Generated</dt><dd>{}</dd>\
         <dt>Run</dt><dd><code>{}</code></dd></dl></header><main>",
        esc(r.tenant_id),
        esc(r.generated_at),
        esc(r.run_id)
    );
    verification(&mut h, r);
    evidence(&mut h, r.evidence);
    policy(&mut h, &r.proof.policy_events);
    spend(&mut h, r.spend);
    h.push_str("</main></body></html>\n");
    h
}

fn verification(h: &mut String, r: &ReportInput<'_>) {
    h.push_str("<section id=\"verification\"><h2>Verification</h2>");
    match r.verification {
        Verification::Intact {
            events_checked,
            head_seq,
            ..
        } => {
            let _ = write!(
                h,
                "<p class=\"status ok\">Audit chain intact: {events_checked} events checked, head at {head_seq}.</p>"
            );
        }
        Verification::Broken {
            broken_at_seq,
            reason,
        } => {
            let _ = write!(
                h,
                "<p class=\"status bad\">Audit chain BROKEN at event {broken_at_seq}: {}</p>",
                esc(reason)
            );
        }
    }
    match r.proof.checkpoints.last() {
        Some(c) => {
            let s = &c.statement;
            let _ = write!(
                h,
                "<p>Signed: {} checkpoint(s) cover the exported events; the last signs event {} \
                 (head <code>{}</code>) at {} with key <code>{}</code>.</p>",
                r.proof.checkpoints.len(),
                s.seq,
                esc(&s.head_hash),
                esc(&s.signed_at),
                esc(&s.key_id)
            );
            let _ = write!(
                h,
                "<p class=\"source\">Sources: audit_chain.json (the chain as verified at export); {} and \
                 its .sig; {}. Check everything yourself with VERIFY.md (sha256sum, openssl, a shell) \
                 or <code>valdrix verify-pack</code>.</p>",
                statement_path(s.seq),
                key_path(&s.key_id)
            );
        }
        None => h.push_str("<p>No audit events in this period, so no checkpoint.</p>"),
    }
    h.push_str("</section>\n");
}

fn evidence(h: &mut String, entries: &[Value]) {
    // (day, channel) -> [passed, failed, skipped]
    let mut by: BTreeMap<(String, String), [u64; 3]> = BTreeMap::new();
    let mut runs: BTreeMap<String, ()> = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e["event_type"] == "evidence.check")
    {
        let day = e["timestamp"]
            .as_str()
            .unwrap_or("")
            .get(..10)
            .unwrap_or("")
            .to_owned();
        let channel = e["details"]["channel"].as_str().unwrap_or("?").to_owned();
        let slot = match e["details"]["status"].as_str() {
            Some("passed") => 0,
            Some("failed") => 1,
            _ => 2,
        };
        by.entry((day, channel)).or_default()[slot] += 1;
        if let Some(run) = e["run_id"].as_str() {
            runs.insert(run.to_owned(), ());
        }
    }
    let _ = write!(
        h,
        "<section id=\"evidence\"><h2>Evidence runs per channel</h2><p>{} checks in {} runs.</p>",
        by.values().map(|c| c.iter().sum::<u64>()).sum::<u64>(),
        runs.len()
    );
    if !by.is_empty() {
        let bars: Vec<Bar> = by
            .iter()
            .map(|((day, channel), c)| Bar {
                label: format!("{day} {channel}"),
                parts: vec![
                    (c[0] as f64, "#2e8b57"),
                    (c[1] as f64, "#c0392b"),
                    (c[2] as f64, "#9aa5b1"),
                ],
                text: format!("{} passed, {} failed", c[0], c[1]),
            })
            .collect();
        h.push_str(&chart(
            &bars,
            "Checks per day and channel: passed (green), failed (red), skipped (grey)",
        ));
        h.push_str("<table><tr><th>Day</th><th>Channel</th><th class=\"num\">Passed</th><th class=\"num\">Failed</th><th class=\"num\">Skipped</th></tr>");
        for ((day, channel), c) in &by {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(day),
                esc(channel),
                c[0],
                c[1],
                c[2]
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"source\">Source: integration_acceptance_evidence.json, the evidence.check entries counted by the day of their timestamp and their details.channel and details.status.</p></section>\n");
}

fn policy(h: &mut String, events: &[AuditEvent]) {
    let accepted: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.event_type == "policy.accepted")
        .collect();
    let _ = write!(
        h,
        "<section id=\"policy\"><h2>Policy events and deliveries</h2><p>{} policy events accepted.</p>",
        accepted.len()
    );
    if !accepted.is_empty() {
        h.push_str("<table><tr><th>Accepted</th><th>Event</th><th>Decision</th><th>Deliveries (attempt: outcome, audit seq)</th><th class=\"num\">Seq</th></tr>");
        for a in accepted {
            let id = a.details["event_id"].as_str().unwrap_or("?");
            let mut deliveries = String::new();
            for d in events.iter().filter(|d| {
                d.event_type.starts_with("policy.delivery_")
                    && d.details["event_id"].as_str() == Some(id)
            }) {
                let _ = write!(
                    deliveries,
                    "{} {}: {} (#{})<br>",
                    esc(d.details["channel"].as_str().unwrap_or("?")),
                    d.details["attempt"],
                    esc(d.event_type.trim_start_matches("policy.delivery_")),
                    d.seq
                );
            }
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td>{} {}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(&a.timestamp),
                esc(id),
                esc(a.details["decision"].as_str().unwrap_or("")),
                esc(a.details["action"].as_str().unwrap_or("")),
                if deliveries.is_empty() {
                    "none recorded".into()
                } else {
                    deliveries
                },
                a.seq
            );
        }
        h.push_str("</table>");
    }
    let _ = writeln!(
        h,
        "<p class=\"source\">Source: {EVENTS_PATH}, the policy.accepted events and the policy.delivery_* events with the same details.event_id (seq numbers as in the file).</p></section>"
    );
}

fn spend(h: &mut String, spend: Option<&Spend>) {
    h.push_str("<section id=\"spend\"><h2>Spend by service and month</h2>");
    let Some(spend) = spend else {
        h.push_str("<p>The FOCUS export is not in this pack (include_focus_export=true adds it).</p></section>\n");
        return;
    };
    let currencies: Vec<&String> = {
        let mut c: Vec<&String> = spend.0.keys().map(|(c, _, _)| c).collect();
        c.dedup();
        c
    };
    if currencies.is_empty() {
        h.push_str("<p>No cost rows in the exported window.</p>");
    }
    for currency in currencies {
        let rows: Vec<(&String, &String, Decimal)> = spend
            .0
            .iter()
            .filter(|((c, _, _), _)| c == currency)
            .map(|((_, m, s), v)| (m, s, *v))
            .collect();
        let mut months: BTreeMap<&String, Decimal> = BTreeMap::new();
        let mut services: BTreeMap<&String, Decimal> = BTreeMap::new();
        for (m, s, v) in &rows {
            *months.entry(m).or_default() += v;
            *services.entry(s).or_default() += v;
        }
        let total: Decimal = months.values().copied().sum();
        let _ = write!(h, "<h3>{}: total {}</h3>", esc(currency), amount(total));
        let bars: Vec<Bar> = months
            .iter()
            .map(|(m, v)| Bar {
                label: (*m).clone(),
                parts: vec![(v.to_f64().unwrap_or(0.0), "#2f6fab")],
                text: amount(*v),
            })
            .collect();
        h.push_str(&chart(
            &bars,
            &format!("Billed cost per month ({})", esc(currency)),
        ));
        let bars: Vec<Bar> = services
            .iter()
            .map(|(s, v)| Bar {
                label: (*s).clone(),
                parts: vec![(v.to_f64().unwrap_or(0.0), "#7b5ea7")],
                text: amount(*v),
            })
            .collect();
        h.push_str(&chart(
            &bars,
            &format!("Billed cost per service ({})", esc(currency)),
        ));
        h.push_str(
            "<table><tr><th>Month</th><th>Service</th><th class=\"num\">Billed cost</th></tr>",
        );
        for (m, s, v) in &rows {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(m),
                esc(s),
                amount(*v)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"source\">Source: exports/focus-v1.2.csv, BilledCost summed by BillingCurrency, the month of ChargePeriodStart and ServiceName, over every row of the file.</p></section>\n");
}

struct Bar {
    label: String,
    /// Stacked segments: (value, colour).
    parts: Vec<(f64, &'static str)>,
    /// The figure printed beside the bar.
    text: String,
}

/// Horizontal stacked bars, one per line, scaled to the largest.
fn chart(bars: &[Bar], caption: &str) -> String {
    const LABEL_W: f64 = 230.0;
    const BAR_W: f64 = 520.0;
    const ROW: f64 = 22.0;
    let max = bars
        .iter()
        .map(|b| b.parts.iter().map(|p| p.0).sum::<f64>())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = ROW * bars.len() as f64 + 28.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg role=\"img\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title>{caption}</title><text x=\"0\" y=\"14\" font-size=\"13\" fill=\"#5b6773\">{caption}</text>",
        w = LABEL_W + BAR_W + 140.0
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 24.0 + ROW * i as f64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14.0,
            esc(&b.label)
        );
        let mut x = LABEL_W;
        for (value, colour) in &b.parts {
            let w = (value.max(0.0) / max) * BAR_W;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"/>"
            );
            x += w;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 6.0,
            y + 13.0,
            esc(&b.text)
        );
    }
    s.push_str("</svg>");
    s
}
