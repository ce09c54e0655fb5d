//! Standard Webhooks signing: the spec's worked example byte for byte, and
//! verification that fails on any change.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use valdrix_shared::outbound::webhook_sig::{
    SignatureError, TOLERANCE_SECS, generate_secret, sign, verify,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[test]
fn reproduces_the_standard_webhooks_worked_example() {
    assert_eq!(sign(&secret(SECRET), MSG_ID, TS, BODY).unwrap(), EXPECTED);
    // The prefix is optional, as in the reference libraries.
    let bare = SECRET.trim_start_matches("whsec_");
    assert_eq!(sign(&secret(bare), MSG_ID, TS, BODY).unwrap(), EXPECTED);
    verify(&secret(SECRET), MSG_ID, TS, BODY, EXPECTED, TS).unwrap();
}

#[test]
fn any_change_breaks_verification() {
    let s = secret(SECRET);
    let mismatch = Err(SignatureError::Mismatch);
    assert_eq!(
        verify(&s, MSG_ID, TS, br#"{"test": 2432232315}"#, EXPECTED, TS),
        mismatch
    );
    assert_eq!(verify(&s, "msg_other", TS, BODY, EXPECTED, TS), mismatch);
    assert_eq!(verify(&s, MSG_ID, TS + 1, BODY, EXPECTED, TS), mismatch);
    let other = secret(&generate_secret());
    assert_eq!(verify(&other, MSG_ID, TS, BODY, EXPECTED, TS), mismatch);
    assert_eq!(verify(&s, MSG_ID, TS, BODY, "v1,bm9wZQ==", TS), mismatch);
    assert_eq!(
        verify(
            &s,
            MSG_ID,
            TS,
            BODY,
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            TS
        ),
        mismatch
    );
}

#[test]
fn rotation_lists_and_the_replay_window() {
    let s = secret(SECRET);
    let header = format!("v1,bm9wZQ== {EXPECTED}");
    verify(&s, MSG_ID, TS, BODY, &header, TS).unwrap();
    verify(&s, MSG_ID, TS, BODY, EXPECTED, TS + TOLERANCE_SECS).unwrap();
    assert_eq!(
        verify(&s, MSG_ID, TS, BODY, EXPECTED, TS + TOLERANCE_SECS + 1),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify(&s, MSG_ID, TS, BODY, EXPECTED, TS - TOLERANCE_SECS - 1),
        Err(SignatureError::Stale)
    );
}

#[test]
fn generated_secrets_are_32_random_bytes_behind_the_prefix() {
    let a = generate_secret();
    let b = generate_secret();
    assert_ne!(a, b);
    let key = STANDARD
        .decode(a.strip_prefix("whsec_").expect("prefix"))
        .unwrap();
    assert_eq!(key.len(), 32);
    let signature = sign(&secret(&a), "msg_1", TS, b"{}").unwrap();
    verify(&secret(&a), "msg_1", TS, b"{}", &signature, TS).unwrap();
}

#[test]
fn malformed_secrets_are_refused_without_echo() {
    for bad in ["whsec_***not-base64***", "whsec_", ""] {
        let err = sign(&secret(bad), MSG_ID, TS, BODY).unwrap_err();
        assert_eq!(err, SignatureError::BadSecret);
        assert!(!err.to_string().contains("not-base64"));
    }
}
