//! What the cargo-fuzz targets of `fuzz/` found, kept as plain tests so CI
//! runs them without nightly (docs/fuzzing.md). Each test names its target.

use secrecy::SecretString;
use serde_json::json;
use valdrix_shared::exports::csv_safe;
use valdrix_shared::exports::zipout::csv_record;
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
