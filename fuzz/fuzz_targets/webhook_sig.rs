//! Standard Webhooks signatures (`webhook_sig::sign` / `verify`).
//!
//! Asserts: `verify` never panics on any header, timestamp or clock; a
//! signature `sign` made verifies for the same id/timestamp/body/secret (also
//! next to other entries, as during secret rotation, and anywhere inside the
//! tolerance); one changed byte of the body, id or signature, another timestamp
//! or another key fails with `Mismatch`; a clock outside the tolerance fails
//! with `Stale`; a secret that is not base64 of at least one byte is refused.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use valdrix_shared::outbound::webhook_sig::{
    SECRET_PREFIX, SignatureError, TOLERANCE_SECS, sign, verify,
};

#[derive(Arbitrary, Debug)]
struct Input {
    key: Vec<u8>,
    /// Used verbatim as the secret instead of `whsec_` + base64(key).
    raw_secret: Option<String>,
    msg_id: String,
    timestamp: i64,
    body: Vec<u8>,
    header: String,
    now: i64,
    /// Where to change a byte (modulo the length) and the XOR that changes it.
    at: usize,
    flip: u8,
}

fuzz_target!(|input: Input| {
    let secret = SecretString::from(match &input.raw_secret {
        Some(raw) => raw.clone(),
        None => format!("{SECRET_PREFIX}{}", STANDARD.encode(&input.key)),
    });
    let (id, ts, body) = (
        input.msg_id.as_str(),
        input.timestamp,
        input.body.as_slice(),
    );

    // Arbitrary headers and clocks: an answer, never a panic.
    let _ = verify(&secret, id, ts, body, &input.header, input.now);

    let sig = match sign(&secret, id, ts, body) {
        Ok(sig) => sig,
        Err(e) => {
            assert_eq!(e, SignatureError::BadSecret);
            assert!(input.raw_secret.is_some() || input.key.is_empty());
            assert_eq!(
                verify(&secret, id, ts, body, &input.header, input.now),
                Err(e)
            );
            return;
        }
    };
    assert!(input.raw_secret.is_some() || !input.key.is_empty());
    assert_eq!(verify(&secret, id, ts, body, &sig, ts), Ok(()));
    let rotated = format!("v1,{} {sig}  v2,x", STANDARD.encode(b"old"));
    assert_eq!(verify(&secret, id, ts, body, &rotated, ts), Ok(()));

    // The clock: inside the tolerance passes, outside is stale.
    let drift = i64::from(input.flip) * TOLERANCE_SECS / 255;
    let drift = if input.at.is_multiple_of(2) {
        drift
    } else {
        -drift
    };
    if let Some(now) = ts.checked_add(drift) {
        assert_eq!(verify(&secret, id, ts, body, &sig, now), Ok(()));
    }
    if let Some(now) = ts.checked_add(TOLERANCE_SECS + 1 + i64::from(input.flip)) {
        assert_eq!(
            verify(&secret, id, ts, body, &sig, now),
            Err(SignatureError::Stale)
        );
    }
    let far = input.now.abs_diff(ts) > TOLERANCE_SECS as u64;
    let at_now = verify(&secret, id, ts, body, &sig, input.now);
    assert_eq!(
        at_now,
        if far {
            Err(SignatureError::Stale)
        } else {
            Ok(())
        }
    );

    let flip = input.flip.max(1);
    let mismatch = Err(SignatureError::Mismatch);

    if !body.is_empty() {
        let mut changed = body.to_vec();
        changed[input.at % body.len()] ^= flip;
        assert_eq!(
            verify(&secret, id, ts, &changed, &sig, ts),
            mismatch,
            "body"
        );
    }
    if let Some(changed) = change_one_char(id, input.at, flip) {
        assert_eq!(
            verify(&secret, &changed, ts, body, &sig, ts),
            mismatch,
            "id"
        );
    }
    // The signature is ASCII; an XOR below 0x80 keeps it a string.
    let mut changed = sig.clone().into_bytes();
    let i = input.at % changed.len();
    changed[i] ^= flip & 0x7f | u8::from(flip & 0x7f == 0);
    let changed = String::from_utf8(changed).expect("ASCII stays ASCII");
    assert_eq!(
        verify(&secret, id, ts, body, &changed, ts),
        mismatch,
        "signature {changed}"
    );

    if let Some(other_ts) = ts.checked_add(i64::from(flip)) {
        assert_eq!(
            verify(&secret, id, other_ts, body, &sig, other_ts),
            mismatch,
            "timestamp"
        );
    }
    if input.raw_secret.is_none() {
        let mut key = input.key.clone();
        let i = input.at % key.len();
        key[i] ^= flip;
        let other = SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(&key)));
        assert_eq!(verify(&other, id, ts, body, &sig, ts), mismatch, "key");
    }
});

/// `id` with one character replaced by a different one, when there is one.
fn change_one_char(id: &str, at: usize, flip: u8) -> Option<String> {
    let count = id.chars().count();
    if count == 0 {
        return None;
    }
    let i = at % count;
    let mut out = String::with_capacity(id.len() + 4);
    for (j, c) in id.chars().enumerate() {
        if j == i {
            let other = char::from_u32(c as u32 ^ u32::from(flip)).unwrap_or('\u{fffd}');
            out.push(if other == c { 'x' } else { other });
            if out.ends_with(c) {
                out.pop();
                out.push(if c == 'x' { 'y' } else { 'x' });
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}
