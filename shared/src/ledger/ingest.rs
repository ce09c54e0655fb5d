//! FOCUS cost files (CSV, plain or gzip) into the ledger, streamed.
//!
//! The file is parsed on a blocking thread and handed over row by row through
//! a bounded channel, so memory stays flat whatever the file's size. Every row
//! is written idempotently ([`upsert_row`]); rows that cannot be mapped are
//! rejected with their line number and reason. One audit event
//! (`cost.ingested`) records the counts.
//!
//! Lifecycle: an `x_CostLifecycle` (or `x_Lifecycle`) column of `preliminary`
//! / `final` wins; otherwise a row whose billing period has not ended at
//! ingest time is preliminary, else final. Missing `EffectiveCost`,
//! `ListCost` or `ContractedCost` *columns* default to `BilledCost`; an empty
//! or malformed cell in a present cost column rejects the row.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use super::lines::LineIndex;
use super::model::{LedgerRow, Lifecycle, line_id, provider_key};
use super::repo::{Upserted, upsert_row};
use crate::audit::{Actor, AuditLog, NewEvent};
use crate::focus::{FOCUS_COLUMNS, SERVICE_CATEGORIES, parse_decimal, parse_time};
use crate::store::{DynStore, StoreError};

/// At most this many rejections are listed (all are counted).
pub const MAX_LISTED_REJECTIONS: usize = 1000;
/// Largest cost a row may carry, in absolute value: far above any real line
/// item, far below where the pack's month totals would overflow `Decimal`
/// (a panic, a 500) over billions of rows.
pub const MAX_COST: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowRejection {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub run_id: String,
    pub tenant_id: String,
    pub source: String,
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub restated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] rejections.
    pub rejections: Vec<RowRejection>,
    pub rejections_truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the file cannot be read as a FOCUS CSV: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the parser hands over per record: a row with its line, a rejection,
/// or the error that stops the file.
pub enum Parsed {
    Row(u64, Box<LedgerRow>),
    Reject(RowRejection),
    Fatal(String),
}

/// Ingest one file for `tenant_id`. `reader` may be gzip; it is read on a
/// blocking thread.
pub async fn ingest<R: Read + Send + 'static>(
    store: &DynStore,
    audit: &AuditLog,
    tenant_id: &str,
    source: &str,
    reader: R,
    actor: Actor,
) -> Result<IngestReport, IngestError> {
    let run_id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(256);
    let (tenant, run) = (tenant_id.to_owned(), run_id.clone());
    let parser = tokio::task::spawn_blocking(move || {
        parse_all(reader, &tenant, &run, now, &mut |m| {
            tx.blocking_send(m).is_ok()
        })
    });

    let mut report = IngestReport {
        run_id: run_id.clone(),
        tenant_id: tenant_id.to_owned(),
        source: source.to_owned(),
        ..Default::default()
    };
    let mut fatal = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Parsed::Row(line, row) => {
                report.rows_read += 1;
                match upsert_row(store.as_ref(), &row, source).await? {
                    Upserted::Inserted => report.inserted += 1,
                    Upserted::Updated => report.updated += 1,
                    Upserted::Restated => report.restated += 1,
                    Upserted::Unchanged => report.unchanged += 1,
                    Upserted::Duplicate => reject(
                        &mut report,
                        RowRejection {
                            line,
                            reason: "duplicate of an earlier row of this file (same natural key)"
                                .into(),
                        },
                    ),
                }
            }
            Parsed::Reject(r) => {
                report.rows_read += 1;
                reject(&mut report, r);
            }
            Parsed::Fatal(e) => fatal = Some(e),
        }
    }
    let _ = parser.await;
    let success = fatal.is_none();
    let mut details = json!({
        "run_id": report.run_id,
        "source": report.source,
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "restated": report.restated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "rejections": report.rejections.iter().take(50).collect::<Vec<_>>(),
    });
    if let Some(e) = &fatal {
        details["error"] = json!(e);
    }
    if let Err(e) = audit
        .append(NewEvent {
            tenant_id: tenant_id.to_owned(),
            event_type: "cost.ingested".into(),
            actor,
            request_id: None,
            resource: Some(format!("cost-file/{source}")),
            success,
            details,
        })
        .await
    {
        tracing::error!(error = %e, "could not audit the cost ingest");
    }
    match fatal {
        Some(e) => Err(IngestError::Unreadable(e)),
        None => Ok(report),
    }
}

fn reject(report: &mut IngestReport, r: RowRejection) {
    report.rejected += 1;
    if report.rejections.len() < MAX_LISTED_REJECTIONS {
        report.rejections.push(r);
    } else {
        report.rejections_truncated = true;
    }
}

/// Parse a whole file synchronously, handing each record to `send`; stops
/// early when `send` returns false. [`ingest`] runs it on a blocking thread;
/// public for the fuzz target (`fuzz/`).
pub fn parse_all<R: Read + 'static>(
    reader: R,
    tenant: &str,
    run: &str,
    now: DateTime<Utc>,
    send: &mut dyn FnMut(Parsed) -> bool,
) {
    let reader = match decompressing_any(reader) {
        Ok(r) => r,
        Err(e) => {
            send(Parsed::Fatal(e.to_string()));
            return;
        }
    };
    let lines = LineIndex::default();
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(lines.wrap(reader));
    let headers = match csv.headers() {
        Ok(h) => Columns::new(h),
        Err(e) => {
            send(Parsed::Fatal(format!("header: {e}")));
            return;
        }
    };
    if let Err(missing) = headers.check_required() {
        send(Parsed::Fatal(missing));
        return;
    }
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line = record
                    .position()
                    .map_or(line + 1, |p| lines.line_at(p.byte()));
                let msg = match map_record(&headers, &record, tenant, run, now) {
                    Ok(row) => Parsed::Row(line, Box::new(row)),
                    Err(reason) => Parsed::Reject(RowRejection { line, reason }),
                };
                if !send(msg) {
                    return;
                }
            }
            Err(e) => {
                line = e.position().map_or(line + 1, |p| lines.line_at(p.byte()));
                if !send(Parsed::Reject(RowRejection {
                    line,
                    reason: format!("unreadable CSV record: {e}"),
                })) {
                    return;
                }
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    send(Parsed::Fatal(format!("read failed at line {line}: {e}")));
                    return;
                }
            }
        }
    }
}

/// Plain or gzip (by magic bytes), as one reader.
pub fn decompressing_any<R: Read + 'static>(reader: R) -> std::io::Result<Box<dyn Read>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

struct Columns {
    index: HashMap<String, usize>,
}

const REQUIRED: [&str; 7] = [
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceName",
];

impl Columns {
    fn new(headers: &csv::StringRecord) -> Self {
        let index = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_owned(), i))
            .collect();
        Self { index }
    }

    fn check_required(&self) -> Result<(), String> {
        let missing: Vec<_> = REQUIRED
            .iter()
            .filter(|c| !self.index.contains_key(**c))
            .copied()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing FOCUS column(s): {}", missing.join(", ")))
        }
    }

    fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    fn get<'r>(&self, rec: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        let v = rec.get(*self.index.get(name)?)?.trim();
        (!v.is_empty()).then_some(v)
    }
}

fn map_record(
    cols: &Columns,
    rec: &csv::StringRecord,
    tenant: &str,
    run: &str,
    now: DateTime<Utc>,
) -> Result<LedgerRow, String> {
    let text = |name: &str| cols.get(rec, name).map(str::to_owned);
    let required = |name: &str| {
        cols.get(rec, name)
            .map(str::to_owned)
            .ok_or_else(|| format!("{name} is empty"))
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        cols.get(rec, name)
            .map(|v| parse_time(v).ok_or_else(|| format!("{name} is not a UTC date/time: {v:?}")))
            .transpose()
    };
    let decimal = |name: &str| -> Result<Option<Decimal>, String> {
        cols.get(rec, name)
            .map(|v| parse_decimal(v).ok_or_else(|| format!("{name} is not a decimal: {v:?}")))
            .transpose()
    };
    let amount = |name: &str| -> Result<Decimal, String> {
        let value = decimal(name)?.ok_or_else(|| format!("{name} is empty"))?;
        if value.abs() > Decimal::from(MAX_COST) {
            return Err(format!(
                "{name} is out of range: at most {MAX_COST} in absolute value"
            ));
        }
        Ok(value)
    };
    let cost = |name: &str, billed: Decimal| -> Result<Decimal, String> {
        if !cols.has(name) {
            return Ok(billed);
        }
        amount(name)
    };

    let start = time("ChargePeriodStart")?.ok_or("ChargePeriodStart is empty")?;
    let end = time("ChargePeriodEnd")?.ok_or("ChargePeriodEnd is empty")?;
    if end < start {
        return Err("ChargePeriodEnd is before ChargePeriodStart".into());
    }
    let billed = amount("BilledCost")?;
    let currency = required("BillingCurrency")?;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "BillingCurrency is not an ISO 4217 code: {currency:?}"
        ));
    }
    let month_start = Utc
        .with_ymd_and_hms(start.year(), start.month(), 1, 0, 0, 0)
        .single()
        .ok_or("ChargePeriodStart out of range")?;
    let next_month = if start.month() == 12 {
        Utc.with_ymd_and_hms(start.year() + 1, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(start.year(), start.month() + 1, 1, 0, 0, 0)
    }
    .single()
    .ok_or("ChargePeriodStart out of range")?;
    let billing_period_start = time("BillingPeriodStart")?.unwrap_or(month_start);
    let billing_period_end = time("BillingPeriodEnd")?.unwrap_or(next_month);

    let provider_name = required("ProviderName")?;
    let provider = match text("x_Provider") {
        Some(p) => {
            let p = p.to_ascii_lowercase();
            if !super::PROVIDERS.contains(&p.as_str()) {
                return Err(format!("x_Provider is not a known provider: {p:?}"));
            }
            p
        }
        None => provider_key(&provider_name),
    };
    let lifecycle = match text("x_CostLifecycle").or_else(|| text("x_Lifecycle")) {
        Some(l) => match l.to_ascii_lowercase().as_str() {
            "preliminary" => Lifecycle::Preliminary,
            "final" => Lifecycle::Final,
            _ => {
                return Err(format!(
                    "x_CostLifecycle must be preliminary or final: {l:?}"
                ));
            }
        },
        None if billing_period_end > now => Lifecycle::Preliminary,
        None => Lifecycle::Final,
    };
    let service_category = match text("ServiceCategory") {
        Some(c) if SERVICE_CATEGORIES.contains(&c.as_str()) => c,
        Some(c) => return Err(format!("ServiceCategory is not a FOCUS 1.2 value: {c:?}")),
        None => "Other".into(),
    };
    let charge_category =
        required("ChargeCategory").or_else(|_| Ok::<_, String>("Usage".into()))?;
    if !["Usage", "Purchase", "Tax", "Credit", "Adjustment"].contains(&charge_category.as_str()) {
        return Err(format!(
            "ChargeCategory is not a FOCUS 1.2 value: {charge_category:?}"
        ));
    }
    let tags = match cols.get(rec, "Tags") {
        None => BTreeMap::new(),
        Some(t) => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(map)) => map.into_iter().collect(),
            _ => return Err("Tags is not a JSON object".into()),
        },
    };
    let mut extra = BTreeMap::new();
    for column in FOCUS_COLUMNS.iter().map(|c| c.id) {
        if !MAPPED.contains(&column)
            && let Some(v) = cols.get(rec, column)
        {
            extra.insert(column.to_owned(), v.to_owned());
        }
    }

    let billing_account_id = required("BillingAccountId")?;
    let service_name = required("ServiceName")?;
    let sub_account_id = text("SubAccountId");
    let resource_id = text("ResourceId");
    let region_id = text("RegionId");
    let charge_class = text("ChargeClass");
    let charge_description = text("ChargeDescription");
    let pricing_unit = text("PricingUnit");
    let start_s = start.to_rfc3339();
    let end_s = end.to_rfc3339();
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let id = line_id(&[
        &provider,
        &billing_account_id,
        &opt(&sub_account_id),
        &start_s,
        &end_s,
        &service_name,
        &opt(&resource_id),
        &opt(&region_id),
        &charge_category,
        &opt(&charge_class),
        &opt(&charge_description),
        &opt(&pricing_unit),
        &currency,
        cols.get(rec, "SkuId").unwrap_or_default(),
        cols.get(rec, "SkuPriceId").unwrap_or_default(),
        cols.get(rec, "CommitmentDiscountId").unwrap_or_default(),
        cols.get(rec, "x_LineItemId").unwrap_or_default(),
    ]);

    Ok(LedgerRow {
        line_id: id,
        tenant_id: tenant.to_owned(),
        charge_date: start.date_naive(),
        charge_period_start: start,
        charge_period_end: end,
        billing_period_start,
        billing_period_end,
        provider,
        provider_name,
        billing_account_id,
        billing_account_name: text("BillingAccountName"),
        sub_account_id,
        sub_account_name: text("SubAccountName"),
        service_name,
        service_category,
        region_id,
        resource_id,
        resource_type: text("ResourceType"),
        charge_category,
        charge_class,
        charge_frequency: text("ChargeFrequency"),
        charge_description,
        pricing_quantity: decimal("PricingQuantity")?,
        pricing_unit,
        billed_cost: billed,
        effective_cost: cost("EffectiveCost", billed)?,
        list_cost: cost("ListCost", billed)?,
        contracted_cost: cost("ContractedCost", billed)?,
        currency,
        tags,
        lifecycle,
        extra,
        ingest_run: run.to_owned(),
    })
}

/// FOCUS columns held in typed fields (everything else goes to `extra`).
const MAPPED: [&str; 26] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "RegionId",
    "ResourceId",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "Tags",
];
