//! The pack's query options, parsed and resolved as the original resolves
//! them (section 5.2–5.3 of the reference), with errors that name the
//! parameter. Windows are resolved even for exports that are not included.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::ledger::{LedgerRange, PROVIDERS};
use crate::validate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub param: String,
    pub message: String,
}

impl OptionError {
    fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
}

impl Window {
    pub fn range(&self) -> LedgerRange {
        LedgerRange {
            start: self.start_date,
            end: self.end_date,
        }
    }

    /// `[start 00:00Z, end 23:59:59.999999999Z]`.
    pub fn contains(&self, t: &DateTime<Utc>) -> bool {
        let d = t.date_naive();
        d >= self.start_date && d <= self.end_date
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FocusOptions {
    pub included: bool,
    pub provider: Option<String>,
    pub include_preliminary: bool,
    /// `None`: no cap (the job path's default).
    pub max_rows: Option<u64>,
    pub window: Window,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavingsOptions {
    pub included: bool,
    pub provider: Option<String>,
    pub window: Window,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealizedOptions {
    pub included: bool,
    pub provider: Option<String>,
    pub limit: Option<u64>,
    pub window: Window,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseOptions {
    pub included: bool,
    pub provider: Option<String>,
    pub enforce_finalized: bool,
    pub max_restatements: Option<u64>,
    pub window: Window,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackOptions {
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub evidence_limit: u32,
    /// Rows of `audit_log.csv` (newest first); more sets its truncation flag.
    pub audit_max_rows: Option<u64>,
    pub focus_export: FocusOptions,
    pub savings_proof: SavingsOptions,
    pub realized_savings: RealizedOptions,
    pub close_package: CloseOptions,
}

pub const KNOWN_PARAMS: [&str; 24] = [
    "start_date",
    "end_date",
    "evidence_limit",
    "include_focus_export",
    "focus_provider",
    "focus_include_preliminary",
    "focus_max_rows",
    "focus_start_date",
    "focus_end_date",
    "include_savings_proof",
    "savings_provider",
    "savings_start_date",
    "savings_end_date",
    "include_realized_savings",
    "realized_provider",
    "realized_start_date",
    "realized_end_date",
    "realized_limit",
    "include_close_package",
    "close_provider",
    "close_start_date",
    "close_end_date",
    "close_enforce_finalized",
    "close_max_restatements",
];

/// The largest cap a job takes (docs/openapi.yaml): past any real ledger.
pub const JOB_CAP_MAX: u64 = 1_000_000_000_000;

/// Which row caps apply when the caller names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caps {
    /// The synchronous GET's contract: default caps (50k FOCUS rows, 100k
    /// audit rows, 5k realized rows and restatements), bounded maxima.
    Api,
    /// An export job: no cap but the caller's own, of any size.
    Job,
}

/// Parse the query's pairs with the GET's caps. `today` anchors the default
/// windows.
pub fn parse(pairs: &[(String, String)], today: NaiveDate) -> Result<PackOptions, OptionError> {
    parse_with(pairs, today, Caps::Api)
}

/// Parse the query's pairs with `caps`' defaults and maxima.
pub fn parse_with(
    pairs: &[(String, String)],
    today: NaiveDate,
    caps: Caps,
) -> Result<PackOptions, OptionError> {
    let mut q = BTreeMap::new();
    for (k, v) in pairs {
        if !KNOWN_PARAMS.contains(&k.as_str()) {
            return Err(OptionError::new(k, "is not a known parameter"));
        }
        if q.insert(k.as_str(), v.as_str()).is_some() {
            return Err(OptionError::new(k, "is given more than once"));
        }
    }
    // Exactly the forms docs/openapi.yaml allows: a parameter sent empty or
    // with spaces is refused, not read as its default.
    let get = |k: &str| q.get(k).copied();
    let boolean = |k: &str, default: bool| -> Result<bool, OptionError> {
        match get(k) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(OptionError::new(k, "must be true or false")),
        }
    };
    let int = |k: &str, default: u64, min: u64, max: u64| -> Result<u64, OptionError> {
        match get(k) {
            None => Ok(default),
            Some(v) => validate::digits(v)
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    OptionError::new(k, format!("must be an integer from {min} to {max}"))
                }),
        }
    };
    // A row cap: the API's default and maximum, or on a job only the caller's.
    let cap = |k: &str, default: u64, min: u64, max: u64| -> Result<Option<u64>, OptionError> {
        match (caps, get(k)) {
            (Caps::Api, _) => int(k, default, min, max).map(Some),
            (Caps::Job, None) => Ok(None),
            (Caps::Job, Some(_)) => int(k, 0, min, JOB_CAP_MAX).map(Some),
        }
    };
    let provider = |k: &str| -> Result<Option<String>, OptionError> {
        match get(k) {
            None => Ok(None),
            Some(p) if PROVIDERS.contains(&p) => Ok(Some(p.to_owned())),
            Some(_) => Err(OptionError::new(
                k,
                format!("must be one of: {}", PROVIDERS.join(", ")),
            )),
        }
    };
    let date = |k: &str| -> Result<Option<NaiveDate>, OptionError> {
        get(k)
            .map(|v| {
                validate::full_date(v)
                    .ok_or_else(|| OptionError::new(k, "must be a date (YYYY-MM-DD)"))
            })
            .transpose()
    };
    let datetime = |k: &str, end_of_day: bool| -> Result<Option<DateTime<Utc>>, OptionError> {
        get(k)
            .map(|v| {
                if let Some(t) = validate::date_time(v) {
                    return Ok(t);
                }
                let d = validate::full_date(v).ok_or_else(|| {
                    OptionError::new(k, "must be a UTC date/time (RFC 3339) or a date")
                })?;
                let time = if end_of_day {
                    NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).expect("valid time")
                } else {
                    NaiveTime::MIN
                };
                Ok(d.and_time(time).and_utc())
            })
            .transpose()
    };
    let window = |prefix: &str, start: NaiveDate, end: NaiveDate| -> Result<Window, OptionError> {
        let s = date(&format!("{prefix}_start_date"))?.unwrap_or(start);
        let e = date(&format!("{prefix}_end_date"))?.unwrap_or(end);
        if s > e {
            return Err(OptionError::new(
                &format!("{prefix}_start_date"),
                format!("{prefix}_start_date must be <= {prefix}_end_date"),
            ));
        }
        Ok(Window {
            start_date: s,
            end_date: e,
        })
    };

    let start_date = datetime("start_date", false)?;
    let end_date = datetime("end_date", true)?;
    if let (Some(s), Some(e)) = (start_date, end_date)
        && s > e
    {
        return Err(OptionError::new(
            "start_date",
            "start_date must be <= end_date",
        ));
    }
    let focus_window = window(
        "focus",
        start_date.map_or(today - Duration::days(30), |t| t.date_naive()),
        end_date.map_or(today, |t| t.date_naive()),
    )?;
    let savings_window = window("savings", focus_window.start_date, focus_window.end_date)?;
    let realized_window = window(
        "realized",
        savings_window.start_date,
        savings_window.end_date,
    )?;
    let close_window = window("close", focus_window.start_date, focus_window.end_date)?;

    Ok(PackOptions {
        start_date,
        end_date,
        evidence_limit: int("evidence_limit", 200, 1, 2000)? as u32,
        audit_max_rows: match caps {
            Caps::Api => Some(100_000),
            Caps::Job => None,
        },
        focus_export: FocusOptions {
            included: boolean("include_focus_export", false)?,
            provider: provider("focus_provider")?,
            include_preliminary: boolean("focus_include_preliminary", false)?,
            max_rows: cap("focus_max_rows", 50_000, 1, 200_000)?,
            window: focus_window,
        },
        savings_proof: SavingsOptions {
            included: boolean("include_savings_proof", false)?,
            provider: provider("savings_provider")?,
            window: savings_window,
        },
        realized_savings: RealizedOptions {
            included: boolean("include_realized_savings", false)?,
            provider: provider("realized_provider")?,
            limit: cap("realized_limit", 5000, 1, 200_000)?,
            window: realized_window,
        },
        close_package: CloseOptions {
            included: boolean("include_close_package", false)?,
            provider: provider("close_provider")?,
            enforce_finalized: boolean("close_enforce_finalized", true)?,
            max_restatements: cap("close_max_restatements", 5000, 0, 200_000)?,
            window: close_window,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Result<PackOptions, OptionError> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&pairs, NaiveDate::from_ymd_opt(2026, 3, 31).unwrap())
    }

    #[test]
    fn defaults_inherit_windows() {
        let o = p(&[
            ("start_date", "2026-01-01"),
            ("savings_end_date", "2026-01-10"),
        ])
        .unwrap();
        assert_eq!(o.focus_export.window.start_date.to_string(), "2026-01-01");
        assert_eq!(o.focus_export.window.end_date.to_string(), "2026-03-31");
        assert_eq!(o.realized_savings.window.end_date.to_string(), "2026-01-10");
        assert_eq!(o.close_package.window.end_date.to_string(), "2026-03-31");
        assert!(o.close_package.enforce_finalized);
        assert_eq!(o.evidence_limit, 200);
        assert_eq!(o.focus_export.max_rows, Some(50_000));
    }

    #[test]
    fn a_job_has_no_cap_but_the_callers() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let o = parse_with(&[], today, Caps::Job).unwrap();
        assert_eq!(o.focus_export.max_rows, None);
        assert_eq!(o.audit_max_rows, None);
        assert_eq!(o.realized_savings.limit, None);
        assert_eq!(o.close_package.max_restatements, None);
        let pairs = [("focus_max_rows".to_owned(), "5000000".to_owned())];
        let o = parse_with(&pairs, today, Caps::Job).unwrap();
        assert_eq!(o.focus_export.max_rows, Some(5_000_000));
        assert_eq!(
            parse_with(&[("focus_max_rows".into(), "0".into())], today, Caps::Job)
                .unwrap_err()
                .param,
            "focus_max_rows"
        );
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (k, v) in [
            ("evidence_limit", "0"),
            ("focus_max_rows", "200001"),
            ("include_focus_export", "maybe"),
            ("focus_provider", "oracle"),
            ("close_max_restatements", "-1"),
            ("realized_start_date", "yesterday"),
            ("bogus", "1"),
        ] {
            assert_eq!(p(&[(k, v)]).unwrap_err().param, k, "{k}={v}");
        }
        let e = p(&[("start_date", "2026-02-01"), ("end_date", "2026-01-01")]).unwrap_err();
        assert_eq!(e.param, "start_date");
        let e = p(&[
            ("close_start_date", "2026-02-01"),
            ("close_end_date", "2026-01-01"),
        ])
        .unwrap_err();
        assert_eq!(e.message, "close_start_date must be <= close_end_date");
    }
}
