//! The character and length rules of every string that enters through the
//! API, each answering with the rule the value broke (never echoing the
//! value). `docs/openapi.yaml` states the same rules as `maxLength` and
//! `pattern` (anchors `&text`, `&lines` there); `infra/tests/openapi_door.rs`
//! holds the schema to them and schemathesis' negative mode holds the code.
//!
//! Lengths count characters (Unicode scalar values), as JSON Schema's
//! `maxLength` does. "Control" is Unicode's Cc category (U+0000-U+001F,
//! U+007F-U+009F) and "space" its White_Space property: exactly Rust's
//! `char::is_control` and `char::is_whitespace`.

use serde::Serialize;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub message: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One line of free text: `min..=max` characters, no control character, and
/// not only spaces. Callers may trim what they store; the rule is on the value sent.
pub fn text(value: &str, min: usize, max: usize) -> Result<(), String> {
    length(value, min, max)?;
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    not_blank(value)
}

/// Multi-line free text: like [`text`], but line feeds and tabs are allowed.
pub fn lines(value: &str, min: usize, max: usize) -> Result<(), String> {
    length(value, min, max)?;
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("must not contain control characters other than line feed and tab".into());
    }
    not_blank(value)
}

fn not_blank(value: &str) -> Result<(), String> {
    if value.chars().all(char::is_whitespace) {
        Err("must not be blank".into())
    } else {
        Ok(())
    }
}

/// No control character and no space anywhere (tokens, ids, refs).
pub fn visible(value: &str) -> bool {
    !value.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Tenant ids: 2-63 lowercase letters, digits and `-`, starting with a
/// letter or digit (they become part of store keys and bucket paths).
pub fn tenant_id(id: &str) -> Result<(), String> {
    let ok = (2..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err("must be 2-63 lowercase letters, digits or '-', starting with a letter or digit".into())
    }
}

/// One `@`, a non-empty local part, a dotted domain that neither starts nor
/// ends with a dot, at most 254 characters, nothing invisible.
pub fn email(value: &str) -> Result<(), String> {
    let valid = value.chars().count() <= 254
        && visible(value)
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err("must be an email address".into())
    }
}

/// RFC 3339's `full-date`: `YYYY-MM-DD`, exactly (JSON Schema's `date`;
/// chrono alone also takes unpadded fields and signed years).
pub fn full_date(v: &str) -> Option<chrono::NaiveDate> {
    let shaped = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
}

/// RFC 3339's `date-time` (JSON Schema's `date-time`), with `T` between date
/// and time (chrono also takes a space there).
pub fn date_time(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let shaped = v.len() >= 20
        && v.get(..10).and_then(full_date).is_some()
        && matches!(v.as_bytes()[10], b'T' | b't');
    shaped
        .then(|| chrono::DateTime::parse_from_rfc3339(v).ok())
        .flatten()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A non-negative integer as a query parameter writes it: digits only (Rust's
/// parser also takes a leading `+`).
pub fn digits(v: &str) -> Option<u64> {
    (!v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
}

/// The version in an `ETag`-shaped header: `"3"`, `W/"3"` or a bare `3`.
pub fn etag_version(text: &str) -> Option<u64> {
    let tag = text.strip_prefix("W/").unwrap_or(text);
    let quoted = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
    digits(quoted.unwrap_or(tag))
}

/// A UUID in its hyphenated form only (JSON Schema's `uuid`).
pub fn uuid(v: &str) -> bool {
    v.len() == 36
        && v.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Between `min` and `max` characters.
pub fn length(value: &str, min: usize, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else if min <= 1 {
        Err(format!("must be 1-{max} characters"))
    } else {
        Err(format!("must be {min}-{max} characters"))
    }
}

/// Only the given extra characters beside ASCII letters and digits.
pub fn charset(value: &str, extra: &str, what: &str) -> Result<(), String> {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        Ok(())
    } else {
        Err(format!("must be {what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.io", "ops+x@acme.example.com"] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.io",
            "a b@c.io",
            "a@.io",
            "a@b.io.",
            "a@b@c.io",
            "a\u{0}@b.io",
            "a\u{3000}@b.io",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lengths_and_charsets() {
        assert!(length("12345678", 8, 1024).is_ok());
        assert_eq!(
            length("1234567", 8, 1024).unwrap_err(),
            "must be 8-1024 characters"
        );
        assert!(charset("my-repo.v2_x", "-._", "letters").is_ok());
        assert!(charset("a/b", "-._", "letters").is_err());
        assert!(charset("", "-._", "letters").is_err());
    }

    #[test]
    fn text_refuses_controls_and_blanks() {
        assert!(text("Acme Corp", 1, 200).is_ok());
        assert!(text("Ünïcödé ✓", 1, 200).is_ok());
        for bad in [
            "a\u{0}b",
            "\u{1b}[2Jwipe",
            "a\r\nb",
            "a\tb",
            "x\u{85}",
            "   ",
            "\u{3000}",
        ] {
            assert!(text(bad, 1, 200).is_err(), "{bad:?}");
        }
        assert!(text(&"x".repeat(201), 1, 200).is_err());
        assert!(
            text(&"é".repeat(200), 1, 200).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn dates_times_and_uuids_take_only_the_schema_forms() {
        assert!(full_date("2024-02-29").is_some());
        for bad in [
            "2024-1-01",
            "+2024-01-01",
            "2023-02-29",
            "2024-01-01T00:00:00Z",
            "",
        ] {
            assert!(full_date(bad).is_none(), "{bad}");
        }
        assert!(date_time("2024-01-01T10:00:00Z").is_some());
        assert!(date_time("2024-01-01t10:00:00.5+02:00").is_some());
        for bad in [
            "2024-01-01 10:00:00Z",
            "2024-01-01",
            "2024-01-01T10:00:00",
            "2024-1-01T10:00:00Z",
        ] {
            assert!(date_time(bad).is_none(), "{bad}");
        }
        assert!(uuid("0b6a4d8e-2f1c-4e1b-9a3d-1c2b3a4d5e6f"));
        for bad in [
            "0b6a4d8e2f1c4e1b9a3d1c2b3a4d5e6f",
            "{0b6a4d8e-2f1c-4e1b-9a3d-1c2b3a4d5e6f}",
            "x",
        ] {
            assert!(!uuid(bad), "{bad}");
        }
    }

    #[test]
    fn lines_allow_line_feeds_and_tabs_only() {
        assert!(lines("first\nsecond\tcolumn", 1, 2000).is_ok());
        for bad in ["a\r\nb", "\u{1b}[2J", "a\u{0}", "\n\t "] {
            assert!(lines(bad, 1, 2000).is_err(), "{bad:?}");
        }
    }
}
