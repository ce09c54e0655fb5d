//! CSV cells and records (`exports::csv_safe` and `exports::zipout::csv_record`).
//!
//! Input: records of text, numeric and JSON cells, written as the exports
//! write them: a constant header, then `csv_record` per record. Asserts:
//! - text: `text(v)` is `v`, or `'` + `v` exactly when `v` starts with one of
//!   `= + - @ TAB CR`; the result never starts with one of them;
//! - number: `number(d)` is plain notation (`-?digits[.digits]`, no exponent)
//!   and parses back to the same decimal, scale included;
//! - JSON: the cell parses back to `json(v)`, whose every string is the
//!   original's `text()` and every key the original with a `'` before it when
//!   it starts with a trigger or `'` (so no two keys merge and none starts with
//!   a trigger);
//! - the `csv` crate reads the bytes back as the same records, field for field.
#![no_main]

use std::str::FromStr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use serde_json::Value;
use valdrix_shared::exports::csv_safe;
use valdrix_shared::exports::zipout::csv_record;

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const MAX_DEPTH: u32 = 16;

#[derive(Arbitrary, Debug)]
enum Cell {
    Text(String),
    Number { mantissa: i128, scale: u8 },
    Json(Json),
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

fuzz_target!(|records: Vec<Vec<Cell>>| {
    let width = records.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
    let mut out = Vec::new();
    csv_record(&mut out, &header);
    let mut written = vec![header];
    for record in records.iter().filter(|r| !r.is_empty()) {
        let cells: Vec<String> = record.iter().map(escape_and_check).collect();
        csv_record(&mut out, &cells);
        written.push(cells);
    }

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(out.as_slice());
    let read: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.expect("csv_record output must parse");
            r.iter().map(str::to_owned).collect()
        })
        .collect();
    assert_eq!(
        read,
        written,
        "read back {:?}",
        String::from_utf8_lossy(&out)
    );
});

fn escape_and_check(cell: &Cell) -> String {
    match cell {
        Cell::Text(v) => {
            let out = csv_safe::text(v).into_owned();
            check_text(v, &out);
            out
        }
        Cell::Number { mantissa, scale } => {
            let Ok(d) = Decimal::try_from_i128_with_scale(mantissa >> 32, u32::from(*scale % 29))
            else {
                return String::new();
            };
            let out = csv_safe::number(&d);
            let digits = out.strip_prefix('-').unwrap_or(&out);
            let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
            assert!(
                !int.is_empty()
                    && !frac.is_empty()
                    && int.bytes().all(|b| b.is_ascii_digit())
                    && frac.bytes().all(|b| b.is_ascii_digit()),
                "number {d:?} written as {out:?}"
            );
            let back = Decimal::from_str(&out).expect("a number cell parses back");
            assert_eq!((back, back.scale()), (d, d.scale()), "number {out:?}");
            out
        }
        Cell::Json(j) => {
            let original = to_value(j, 0);
            let safe = csv_safe::json(&original);
            check_json(&original, &safe);
            let out = serde_json::to_string(&safe).expect("a Value serialises");
            let back: Value = serde_json::from_str(&out).expect("a JSON cell parses back");
            assert_eq!(back, safe, "JSON cell {out:?}");
            out
        }
    }
}

fn check_text(original: &str, out: &str) {
    if original.starts_with(TRIGGERS) {
        assert_eq!(out, format!("'{original}"));
    } else {
        assert_eq!(out, original);
    }
    assert!(
        !out.starts_with(TRIGGERS),
        "text cell {out:?} starts with a trigger"
    );
}

fn check_json(original: &Value, safe: &Value) {
    match (original, safe) {
        (Value::String(a), Value::String(b)) => check_text(a, b),
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).for_each(|(a, b)| check_json(a, b));
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.len(), b.len(), "keys collided: {a:?} -> {b:?}");
            for (k, v) in a {
                let safe_key = if k.starts_with(TRIGGERS) || k.starts_with('\'') {
                    format!("'{k}")
                } else {
                    k.clone()
                };
                let safe = b.get(&safe_key).expect("the escaped key is present");
                check_json(v, safe);
            }
        }
        (a, b) => assert_eq!(a, b),
    }
}

fn to_value(j: &Json, depth: u32) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Int(i) => Value::from(*i),
        Json::Str(s) => Value::String(s.clone()),
        Json::Arr(items) => Value::Array(items.iter().map(|i| to_value(i, depth + 1)).collect()),
        Json::Obj(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v, depth + 1)))
                .collect(),
        ),
    }
}
