//! The FOCUS cost-file parser of the streaming ingest
//! (`ledger::ingest::parse_all`, `focus::parse_time`, `focus::parse_decimal`).
//!
//! Input: the bytes of a cost file (any header order, plain or gzip); short
//! inputs are also fed to `parse_time` and `parse_decimal` directly. Asserts:
//! - nothing panics; a fatal error, if any, is the last message; every record
//!   starts on a later line than the header and the record before it;
//! - a row holds what the ingest promises (end >= start, ISO currency code,
//!   known provider and categories) and survives the store codec unchanged;
//! - every decimal the parser returns prints in plain notation and parses back
//!   to itself (scale included), never as `-0`;
//! - every time it returns prints (RFC 3339 and the export's format) and parses
//!   back to itself;
//! - the row's export record (`focus::record`) has no cell that starts with a
//!   formula trigger unless the cell is a plain number.
#![no_main]

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use valdrix_shared::exports::focus::record;
use valdrix_shared::focus::{SERVICE_CATEGORIES, format_time, parse_decimal, parse_time};
use valdrix_shared::ledger::ingest::{Parsed, parse_all};
use valdrix_shared::ledger::{LedgerRow, PROVIDERS};
use valdrix_shared::store::codec::{from_item, to_item};

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fuzz_target!(|data: &[u8]| {
    if data.len() <= 64
        && let Ok(text) = std::str::from_utf8(data)
    {
        if let Some(t) = parse_time(text) {
            check_time(t);
        }
        if let Some(d) = parse_decimal(text) {
            check_decimal(d);
        }
    }

    let now = Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap();
    let mut messages = Vec::new();
    let reader = std::io::Cursor::new(data.to_vec());
    parse_all(reader, "t", "run", now, &mut |m| {
        messages.push(m);
        true
    });

    let mut last_line = 1;
    for (i, m) in messages.iter().enumerate() {
        let line = match m {
            Parsed::Fatal(_) => {
                assert_eq!(i + 1, messages.len(), "a message after the fatal one");
                continue;
            }
            Parsed::Reject(r) => r.line,
            Parsed::Row(line, row) => {
                check_row(row);
                *line
            }
        };
        assert!(line > last_line, "line {line} after {last_line}");
        last_line = line;
    }
});

fn check_row(row: &LedgerRow) {
    assert!(row.charge_period_end >= row.charge_period_start);
    assert_eq!(row.charge_date, row.charge_period_start.date_naive());
    assert!(row.currency.len() == 3 && row.currency.bytes().all(|b| b.is_ascii_uppercase()));
    assert!(
        PROVIDERS.contains(&row.provider.as_str()),
        "{}",
        row.provider
    );
    assert!(SERVICE_CATEGORIES.contains(&row.service_category.as_str()));
    for t in [
        row.charge_period_start,
        row.charge_period_end,
        row.billing_period_start,
        row.billing_period_end,
    ] {
        check_time(t);
    }
    for d in [
        row.billed_cost,
        row.effective_cost,
        row.list_cost,
        row.contracted_cost,
    ]
    .into_iter()
    .chain(row.pricing_quantity)
    {
        check_decimal(d);
    }

    let item = to_item("pk", "sk", 1, row);
    let (stored, _): (LedgerRow, u64) = from_item(&item).expect("a parsed row reads back");
    assert!(
        stored.same_content(row),
        "store codec changed {row:?} into {stored:?}"
    );

    for cell in record(row) {
        if cell.starts_with(TRIGGERS) {
            assert!(
                cell.starts_with('-')
                    && Decimal::from_str(&cell).is_ok()
                    && !cell.contains(['e', 'E']),
                "export cell {cell:?} starts with a formula trigger"
            );
        }
    }
}

fn check_decimal(d: Decimal) {
    let shown = d.to_string();
    assert!(!shown.contains(['e', 'E']), "{shown}");
    assert_ne!(shown.chars().next(), Some('+'));
    let back = parse_decimal(&shown).expect("a parsed decimal parses back");
    assert_eq!((back, back.scale()), (d, d.scale()), "{shown}");
    assert!(
        !(d.is_zero() && d.is_sign_negative()),
        "negative zero {shown}"
    );
}

fn check_time(t: DateTime<Utc>) {
    let rfc = t.to_rfc3339();
    assert_eq!(parse_time(&rfc), Some(t), "{rfc}");
    let exported = format_time(&t);
    // The export drops the fraction; a leap second stays one.
    let nanos = t.nanosecond() - t.nanosecond() % 1_000_000_000;
    let whole_seconds = t.with_nanosecond(nanos).expect("whole seconds are valid");
    assert_eq!(parse_time(&exported), Some(whole_seconds), "{exported}");
}
