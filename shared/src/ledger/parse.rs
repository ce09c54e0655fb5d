//! FOCUS CSV records into ledger rows, on a blocking thread: a whole file,
//! or the rest of one from where an earlier invocation stopped (a byte offset
//! for a plain file read with a ranged GET, a count of records to skip for a
//! gzip file, which cannot be entered in the middle).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ingest::{MAX_COST, RowRejection};
use super::lines::LineIndex;
use super::model::{LedgerRow, Lifecycle, line_id, provider_key};
use crate::focus::{FOCUS_COLUMNS, SERVICE_CATEGORIES, parse_decimal, parse_time};

/// What the parser hands over per record: a row with its line, a rejection,
/// or the error that stops the file.
pub enum Parsed {
    Row(u64, Box<LedgerRow>),
    Reject(RowRejection),
    Fatal(String),
}

/// Where a record starts: what a parse resumed there needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct At {
    /// Byte offset in the file (decompressed; a ranged read's start when plain).
    pub offset: u64,
    /// 1-based line (the header is line 1).
    pub line: u64,
    /// Records before it, rows and rejections alike.
    pub records: u64,
}

/// Where a parse begins.
#[derive(Debug, Clone)]
pub enum Begin {
    /// The whole file, plain or gzip (by its magic bytes).
    File,
    /// A plain file's bytes from `at.offset` on (a ranged read): the header
    /// was read before.
    Offset { header: Vec<String>, at: At },
    /// The whole file again, its first `records` records skipped unmapped
    /// (gzip).
    Skip { records: u64 },
}

/// What the parser hands over: first the file's shape, then every record
/// with where it starts.
pub enum Event {
    Opened { header: Vec<String>, gzip: bool },
    Record(At, Parsed),
}

/// Parse a whole file synchronously, handing each record to `send`; stops
/// early when `send` returns false. Public for the fuzz target (`fuzz/`).
pub fn parse_all<R: Read + 'static>(
    reader: R,
    tenant: &str,
    run: &str,
    now: DateTime<Utc>,
    send: &mut dyn FnMut(Parsed) -> bool,
) {
    parse(
        reader,
        Begin::File,
        tenant,
        run,
        now,
        &mut |event| match event {
            Event::Record(_, parsed) => send(parsed),
            Event::Opened { .. } => true,
        },
    )
}

/// Parse from `begin`, handing each event to `send`; stops early when `send`
/// returns false.
pub fn parse<R: Read + 'static>(
    reader: R,
    begin: Begin,
    tenant: &str,
    run: &str,
    now: DateTime<Utc>,
    send: &mut dyn FnMut(Event) -> bool,
) {
    let fatal = |at: At, e: String| Event::Record(at, Parsed::Fatal(e));
    let (reader, gzip): (Box<dyn Read>, bool) = match &begin {
        Begin::Offset { .. } => (Box::new(BufReader::with_capacity(64 * 1024, reader)), false),
        Begin::File | Begin::Skip { .. } => match detect(reader) {
            Ok(opened) => opened,
            Err(e) => {
                send(fatal(At::default(), e.to_string()));
                return;
            }
        },
    };
    let lines = LineIndex::default();
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(!matches!(begin, Begin::Offset { .. }))
        .from_reader(lines.wrap(reader));
    let (header, base, mut records) = match &begin {
        Begin::Offset { header, at } => (header.clone(), at.offset, at.records),
        Begin::File | Begin::Skip { .. } => match csv.headers() {
            Ok(h) => (h.iter().map(str::to_owned).collect::<Vec<_>>(), 0, 0),
            Err(e) => {
                send(fatal(At::default(), format!("header: {e}")));
                return;
            }
        },
    };
    let columns = Columns::new(&header);
    if let Err(missing) = columns.check_required() {
        send(fatal(At::default(), missing));
        return;
    }
    if !send(Event::Opened { header, gzip }) {
        return;
    }
    let skip = match &begin {
        Begin::Skip { records } => *records,
        Begin::File | Begin::Offset { .. } => 0,
    };
    // A resumed read counts lines from its own first byte; the first
    // record's known line turns them into the file's.
    let (mut delta, first_line) = match &begin {
        Begin::Offset { at, .. } => (None, at.line as i64),
        Begin::File | Begin::Skip { .. } => (Some(0), 0),
    };
    let mut line_of = |byte: u64| {
        let counted = lines.line_at(byte) as i64;
        let delta = *delta.get_or_insert(first_line - counted);
        (counted + delta).max(1) as u64
    };
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        let result = csv.read_record(&mut record);
        let byte = match &result {
            Ok(true) => record.position().map(|p| p.byte()),
            Ok(false) => break,
            Err(e) => e.position().map(|p| p.byte()),
        };
        line = byte.map_or(line + 1, &mut line_of);
        let at = At {
            offset: base + byte.unwrap_or(0),
            line,
            records,
        };
        records += 1;
        if at.records < skip {
            continue;
        }
        let event = match result {
            Ok(_) => match map_record(&columns, &record, tenant, run, now) {
                Ok(mut row) => {
                    row.ingest_line = line;
                    Parsed::Row(line, Box::new(row))
                }
                Err(reason) => Parsed::Reject(RowRejection { line, reason }),
            },
            Err(e) => {
                let io = matches!(e.kind(), csv::ErrorKind::Io(_));
                if !send(Event::Record(
                    at,
                    Parsed::Reject(RowRejection {
                        line,
                        reason: format!("unreadable CSV record: {e}"),
                    }),
                )) {
                    return;
                }
                if io {
                    send(fatal(at, format!("read failed at line {line}: {e}")));
                    return;
                }
                continue;
            }
        };
        if !send(Event::Record(at, event)) {
            return;
        }
    }
}

/// Plain or gzip (by magic bytes), as one reader.
pub fn decompressing_any<R: Read + 'static>(reader: R) -> std::io::Result<Box<dyn Read>> {
    detect(reader).map(|(r, _)| r)
}

fn detect<R: Read + 'static>(reader: R) -> std::io::Result<(Box<dyn Read>, bool)> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((Box::new(flate2::read::MultiGzDecoder::new(buffered)), true))
    } else {
        Ok((Box::new(buffered), false))
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
    fn new(headers: &[String]) -> Self {
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
        ingest_line: 0,
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
