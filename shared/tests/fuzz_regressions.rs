//! What the cargo-fuzz targets of `fuzz/` found, kept as plain tests so CI
//! runs them without nightly (docs/fuzzing.md). Each test names its target.

use chrono::{TimeZone, Utc};
use secrecy::SecretString;
use serde_json::json;
use valdrix_shared::exports::csv_safe;
use valdrix_shared::exports::zipout::csv_record;
use valdrix_shared::focus::format_time;
use valdrix_shared::focus::parse_time;
use valdrix_shared::ledger::ingest::{Parsed, parse_all};
use valdrix_shared::outbound::ssrf::{Policy, Refusal, check_url};
use valdrix_shared::outbound::webhook_sig::{SignatureError, generate_secret, sign, verify};

/// webhook_sig: `verify` computed `(now - timestamp).abs()`, which overflows
/// (a panic in debug builds) for a header timestamp near i64::MIN/MAX, and in
/// release wrapped to a negative distance that passed the replay window.
#[test]
fn webhook_timestamps_at_the_ends_of_i64_are_stale_not_a_panic() {
    let secret = SecretString::from(generate_secret());
    let now: i64 = 1_771_754_400;
    for ts in [i64::MIN, i64::MAX, now.wrapping_add(i64::MIN)] {
        let sig = sign(&secret, "msg_1", ts, b"{}").unwrap();
        assert_eq!(
            verify(&secret, "msg_1", ts, b"{}", &sig, now),
            Err(SignatureError::Stale),
            "timestamp {ts}"
        );
    }
    let sig = sign(&secret, "msg_1", now, b"{}").unwrap();
    assert_eq!(
        verify(&secret, "msg_1", now, b"{}", &sig, now + 300),
        Ok(())
    );
}

/// csv_escape: a record of one empty cell was written as an empty line, which
/// a CSV reader skips, so the row vanished.
#[test]
fn a_lone_empty_cell_is_still_a_record() {
    let mut out = Vec::new();
    csv_record(&mut out, &["Note"]);
    csv_record(&mut out, &[""]);
    csv_record(&mut out, &["x"]);
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(out.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows, [["Note"], [""], ["x"]]);
}

/// csv_escape: `json` prefixed object keys like text cells, so the tags `=a`
/// and `'=a` both became `'=a` and one of them vanished from the export.
#[test]
fn escaped_json_keys_never_merge() {
    let safe = csv_safe::json(&json!({"=a": 1, "'=a": 2, "b": {"'x": "-1"}}));
    assert_eq!(safe, json!({"'=a": 1, "''=a": 2, "b": {"''x": "'-1"}}));
}

fn rejection_lines(file: &str) -> Vec<u64> {
    let now = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let mut lines = Vec::new();
    let reader = std::io::Cursor::new(file.as_bytes().to_vec());
    parse_all(reader, "t", "run", now, &mut |m| {
        match m {
            Parsed::Row(line, _) => lines.push(line),
            Parsed::Reject(r) => lines.push(r.line),
            Parsed::Fatal(e) => panic!("fatal: {e}"),
        }
        true
    });
    lines
}

/// focus_ingest: with CRLF line ends (RFC 4180) or blank lines, the csv
/// crate's `Position::line` is one short, so the first row was reported on
/// line 1, the header's line.
#[test]
fn ingest_reports_the_real_line_of_each_row() {
    let header = "BilledCost,BillingAccountId,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName";
    let good = "1.00,acc,USD,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,AWS,EC2";
    let bad = "x,acc,USD,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,AWS,EC2";
    let lf = format!("{header}\n{good}\n{bad}\n");
    assert_eq!(rejection_lines(&lf), [2, 3]);
    let crlf = format!("{header}\r\n{good}\r\n{bad}\r\n");
    assert_eq!(rejection_lines(&crlf), [2, 3]);
    let blank = format!("{header}\r\n\r\n{good}\r\n\r\n\r\n{bad}\r\n");
    assert_eq!(rejection_lines(&blank), [3, 6]);
}

/// focus_ingest: chrono's `%Y` also reads `+10000` and `-12`, and the export
/// then wrote `+10000-01-01T00:00:00Z`, an unquoted cell starting with a
/// formula trigger.
#[test]
fn times_need_a_four_digit_year() {
    for v in [
        "+10000-01-01T00:00:00",
        "-0001-01-01 00:00:00",
        "-12-01-01T00:00:00",
        "9999-12-31T23:00:00-02:00",
    ] {
        assert_eq!(parse_time(v), None, "{v}");
    }
    for v in ["0000-01-01T00:00:00", "9999-12-31T23:59:59Z", "2026-01-02"] {
        let t = parse_time(v).unwrap_or_else(|| panic!("{v} parses"));
        assert!(format_time(&t).starts_with(|c: char| c.is_ascii_digit()));
    }
}

/// ssrf_url: the url crate drops one trailing dot before its IPv4 check, so
/// `127.1..` stayed a name, and `check_name` only recognised the dotted-quad
/// form after trimming. Such names are now refused before any lookup.
#[test]
fn names_ending_in_a_number_are_refused() {
    let policy = Policy::default();
    for url in [
        "https://127.1../",
        "https://0x7f.1../",
        "https://2130706433../",
        "https://1926..15469.254.../",
        "https://169.254.43518../latest",
    ] {
        assert!(
            matches!(check_url(url, &policy), Err(Refusal::NumericName(_))),
            "{url}: {:?}",
            check_url(url, &policy)
        );
    }
    for url in [
        "https://1.example.com/",
        "https://a.0xg/",
        "https://example.com./",
    ] {
        assert!(check_url(url, &policy).is_ok(), "{url}");
    }
    // An empty label is no DNS name (issue 14: hosts DNS can never resolve).
    assert!(matches!(
        check_url("https://example.com../", &policy),
        Err(Refusal::NotDnsName(_))
    ));
}
