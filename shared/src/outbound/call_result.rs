//! The outcome of one outbound call, safe to store and show to an operator.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ssrf::Refusal;

/// Longest `detail` kept.
pub const DETAIL_MAX_CHARS: usize = 400;

/// Whether trying again later can help. Only meaningful when `ok` is false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryability {
    /// Timeout, connection error, 408, 429 or 5xx; `retry_after` from the
    /// answer's `Retry-After` header when it had one.
    Retryable { retry_after: Option<Duration> },
    /// Other 4xx, SSRF refusal, redirect, bad configuration.
    Permanent,
}

/// One call's result. `detail` is a short summary that never holds a secret or
/// a URL query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub detail: String,
    pub retry: Retryability,
    /// The created object's id: Jira issue key, GitLab pipeline id, Slack message ts...
    pub external_id: Option<String>,
}

impl CallResult {
    pub fn is_retryable(&self) -> bool {
        !self.ok && matches!(self.retry, Retryability::Retryable { .. })
    }

    /// A failure found before any request was sent (bad settings).
    pub fn bad_config(what: &str) -> Self {
        Self::failed(
            None,
            0,
            format!("bad config: {what}"),
            Retryability::Permanent,
        )
    }

    /// A failure on our side before any request was sent (store down): try later.
    pub fn retryable(what: &str) -> Self {
        Self::failed(
            None,
            0,
            what.to_owned(),
            Retryability::Retryable { retry_after: None },
        )
    }

    pub(crate) fn refused(refusal: &Refusal, latency_ms: u64) -> Self {
        let retry = if refusal.is_transient() {
            Retryability::Retryable { retry_after: None }
        } else {
            Retryability::Permanent
        };
        Self::failed(None, latency_ms, format!("refused: {refusal}"), retry)
    }

    pub(crate) fn failed(
        status_code: Option<u16>,
        latency_ms: u64,
        detail: String,
        retry: Retryability,
    ) -> Self {
        Self {
            ok: false,
            status_code,
            latency_ms,
            detail,
            retry,
            external_id: None,
        }
    }

    /// Blanks every occurrence of the given secrets in `detail` (a receiver may
    /// echo what it was sent, and the detail ends up in audit records), then
    /// bounds its length.
    pub(crate) fn scrubbed(mut self, secrets: &[&str]) -> Self {
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            if self.detail.contains(secret) {
                self.detail = self.detail.replace(secret, "[redacted]");
            }
        }
        self.detail = cut(&self.detail, DETAIL_MAX_CHARS);
        self
    }
}

/// Retryability of an HTTP status; `retry_after` is the raw header value.
pub(crate) fn retry_for_status(status: u16, retry_after: Option<&str>) -> Retryability {
    match status {
        408 | 429 | 500..=599 => Retryability::Retryable {
            retry_after: retry_after.and_then(|v| parse_retry_after(v, Utc::now())),
        },
        _ => Retryability::Permanent,
    }
}

/// `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Vendor-supplied text made fit for `detail`: one line, no control characters.
/// Not cut here: [`CallResult::scrubbed`] cuts after scrubbing, so a cut can never
/// leave part of a secret behind.
pub(crate) fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max_chars` characters of `text`, cut on a character boundary.
pub(crate) fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn statuses_map_to_retryability() {
        assert!(
            matches!(retry_for_status(429, Some("3")), Retryability::Retryable { retry_after: Some(d) } if d.as_secs() == 3)
        );
        assert!(matches!(
            retry_for_status(503, None),
            Retryability::Retryable { retry_after: None }
        ));
        for status in [400, 401, 403, 404, 422] {
            assert_eq!(retry_for_status(status, None), Retryability::Permanent);
        }
    }

    #[test]
    fn scrub_blanks_every_copy_and_ignores_empty_secrets() {
        let d = CallResult::bad_config("tok-123 and tok-123").scrubbed(&["", "tok-123"]);
        assert_eq!(d.detail, "bad config: [redacted] and [redacted]");
    }

    #[test]
    fn vendor_text_becomes_one_line_and_cuts_keep_characters_whole() {
        assert_eq!(one_line(" a\nb\t\u{7}c "), "a b c");
        assert_eq!(cut("ééééé", 3), "ééé");
        assert_eq!(cut("ab", 3), "ab");
    }

    #[test]
    fn scrub_runs_before_the_cut() {
        let secret = "s3cr3t-token-value";
        let long = format!("{}{secret}", "x".repeat(DETAIL_MAX_CHARS - 5));
        let d = CallResult::bad_config(&long).scrubbed(&[secret]);
        assert!(!d.detail.contains("s3cr"), "{}", d.detail);
        assert_eq!(d.detail.chars().count(), DETAIL_MAX_CHARS);
    }
}
