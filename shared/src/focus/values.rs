//! FOCUS values as text: the date/times and decimals a cost file holds, read
//! exactly, and date/times as the export writes them.

use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use rust_decimal::Decimal;

/// `YYYY-MM-DDTHH:MM:SSZ`. Written digit by digit: an export writes four
/// of these per row, and chrono's `format` re-reads its pattern every call.
pub fn format_time(t: &DateTime<Utc>) -> String {
    let Some(year) = u32::try_from(t.year()).ok().filter(|y| *y <= 9999) else {
        return t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    };
    let mut out = String::with_capacity(20);
    let mut push = |n: u32, width: u32, then: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
        out.push(then);
    };
    push(year, 4, '-');
    push(t.month(), 2, '-');
    push(t.day(), 2, 'T');
    push(t.hour(), 2, ':');
    push(t.minute(), 2, ':');
    // A leap second is second 59 with a nanosecond past one second: `60`.
    push(
        t.second() + u32::from(t.nanosecond() >= 1_000_000_000),
        2,
        'Z',
    );
    out
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
    fn format_time_writes_what_chronos_pattern_writes() {
        let pattern = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        for text in [
            "2026-01-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T07:08:09Z",
            "1970-01-01T00:00:00Z",
        ] {
            let t = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(format_time(&t), text);
            assert_eq!(format_time(&t), pattern(&t));
        }
        // Leap second and years outside 0..=9999 go through chrono.
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1500)
            .unwrap()
            .and_utc();
        assert_eq!(format_time(&leap), pattern(&leap));
        for year in [-1, 10000] {
            let t = NaiveDate::from_ymd_opt(year, 6, 1)
                .unwrap()
                .and_hms_opt(1, 2, 3)
                .unwrap()
                .and_utc();
            assert_eq!(format_time(&t), pattern(&t));
        }
    }

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
