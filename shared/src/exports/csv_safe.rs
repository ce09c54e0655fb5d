//! Formula-injection safety for every CSV cell the system writes.
//!
//! Rule (documented in `docs/compliance_pack.md`):
//! - a **text** cell whose first character is `=`, `+`, `-`, `@`, TAB or CR
//!   gets a leading `'`, so a spreadsheet shows it as text and never runs it;
//! - a **numeric** cell is written from an exact [`Decimal`] (`-12.50`,
//!   never an exponent) and is not prefixed: a plain signed number is never a
//!   formula, and keeping it numeric keeps the column summable. Only columns
//!   whose value the code itself formats from a `Decimal` or an integer are
//!   numeric; anything that came in as text stays text and is guarded.
//! - inside JSON cells (`Tags`, `SkuPriceDetails`) string keys and values that
//!   start with a trigger are prefixed the same way, so a tag value such as
//!   `=HYPERLINK(…)` never reaches a spreadsheet intact. A key that already
//!   starts with `'` gets one more, so two keys never become one (`=a` and
//!   `'=a` stay two tags).

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde_json::Value;

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell, neutralised when it could start a formula.
pub fn text(value: &str) -> Cow<'_, str> {
    if value.starts_with(TRIGGERS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A numeric cell: the exact decimal in plain notation.
pub fn number(value: &Decimal) -> String {
    value.to_string()
}

/// A JSON value with every string (and object key) neutralised.
pub fn json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(text(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (key(k), json(v))).collect()),
        other => other.clone(),
    }
}

/// An object key: [`text`], made one-to-one by also prefixing a leading `'`.
fn key(k: &str) -> String {
    if k.starts_with('\'') {
        format!("'{k}")
    } else {
        text(k).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json as j;

    #[test]
    fn triggers_are_prefixed_and_numbers_kept() {
        for bad in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text(bad), format!("'{bad}"));
        }
        assert_eq!(text("plain"), "plain");
        assert_eq!(number(&Decimal::new(-1250, 2)), "-12.50");
        assert_eq!(
            json(&j!({"owner": "=HYPERLINK(\"x\")", "=k": [ "-1", 2 ]})),
            j!({"owner": "'=HYPERLINK(\"x\")", "'=k": ["'-1", 2]})
        );
    }
}
