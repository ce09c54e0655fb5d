//! FOCUS values as text: the date/times and decimals a cost file holds, read
//! exactly, and date/times as the export writes them.

use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 / ISO 8601 in UTC (`Z`, `+00:00` or no offset), or a bare date.
/// Only four-digit years (0000-9999), as RFC 3339 has them: chrono's `%Y`
/// also reads `+10000` or `-12`, which the export would write unquoted as a
/// cell starting with `+` or `-`.
pub fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    parse_any_year(v).filter(|t| (0..=9999).contains(&t.year()))
}

fn parse_any_year(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A plain or E-notation decimal, exactly.
pub fn parse_decimal(v: &str) -> Option<Decimal> {
    Decimal::from_str(v)
        .ok()
        .or_else(|| Decimal::from_scientific(v).ok())
        .map(|d| d.normalize_zero())
}

trait NormalizeZero {
    fn normalize_zero(self) -> Self;
}

impl NormalizeZero for Decimal {
    /// `-0` becomes `0`; otherwise the scale the source wrote is kept.
    fn normalize_zero(self) -> Self {
        if self.is_zero() { Decimal::ZERO } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_decimals_parse_exactly() {
        assert_eq!(
            parse_time("2026-01-02T03:04:05.000Z").unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        assert!(parse_time("2026-01-02").is_some());
        assert!(parse_time("yesterday").is_none());
        assert_eq!(parse_decimal("10.50").unwrap().to_string(), "10.50");
        assert_eq!(parse_decimal("1.5E-3").unwrap().to_string(), "0.0015");
        assert_eq!(
            parse_decimal("0.1").unwrap() + parse_decimal("0.2").unwrap(),
            parse_decimal("0.3").unwrap()
        );
        assert!(parse_decimal("$3").is_none());
    }
}
