//! The runtime contract: dotenv text and the runtime secret's JSON into a
//! `VarSet`, then `validate`.
//!
//! Input: dotenv text, optionally followed by a NUL byte and the runtime
//! secret's JSON text. Asserts: nothing panics; a dotenv error names only the
//! source, entry number and kind of error; no violation (variable or rule) and
//! no `Debug` of a valid config holds the value of a secret-class variable.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use valdrix_shared::config::source::parse_secret_json;
use valdrix_shared::config::vars::{self, ENCRYPTION_KEY_FALLBACKS, Kind};
use valdrix_shared::config::{VarSet, Violation, validate};

const LABEL: &str = "fuzz.env";
const DOTENV_ERROR_KINDS: [&str; 4] = ["malformed line", "I/O error", "bad variable", "unreadable"];

fuzz_target!(|data: &[u8]| {
    let (env_text, secret_text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };

    let mut vars = match VarSet::from_dotenv_reader(env_text, LABEL) {
        Ok(vars) => vars,
        Err(message) => {
            assert_dotenv_error_is_bare(&message);
            VarSet::default()
        }
    };

    let mut secret_keys = Vec::new();
    let mut violations = Vec::new();
    if let Some(text) = secret_text.and_then(|t| std::str::from_utf8(t).ok()) {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) {
            secret_keys.extend(map.keys().cloned());
        }
        match parse_secret_json(text) {
            Ok(secret) => vars.fill_from(secret),
            Err(v) => violations.push(v),
        }
    }

    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let config = validate(&vars, now);
    let shown = match &config {
        Ok(config) => format!("{config:?}"),
        Err(more) => {
            violations.extend(more.iter().cloned());
            String::new()
        }
    };

    let secrets = checkable_secrets(&vars, &secret_keys);
    for secret in &secrets {
        for v in &violations {
            assert_no_secret(v, secret);
        }
        assert!(
            !shown.contains(secret.as_str()),
            "Debug of a valid config shows a secret value: {shown}"
        );
    }
});

/// `from_dotenv_reader` errors must not quote the text (it may hold secrets).
fn assert_dotenv_error_is_bare(message: &str) {
    let rest = message
        .strip_prefix(&format!("cannot parse env file {LABEL} near entry "))
        .unwrap_or_else(|| panic!("unexpected dotenv error shape: {message:?}"));
    let (number, kind) = rest
        .split_once(": ")
        .unwrap_or_else(|| panic!("unexpected dotenv error shape: {message:?}"));
    assert!(
        number.bytes().all(|b| b.is_ascii_digit()) && DOTENV_ERROR_KINDS.contains(&kind),
        "dotenv error quotes more than its kind: {message:?}"
    );
}

fn assert_no_secret(v: &Violation, secret: &str) {
    assert!(
        !v.rule.contains(secret) && !v.variable.contains(secret),
        "violation {v:?} holds a secret value"
    );
}

/// Secret-class values that a leak would reveal unambiguously: trimmed, at
/// least 6 characters, with a character outside printable ASCII (every rule
/// text is printable ASCII, so such a value in a rule can only come from the
/// value), and not part of a name, plain value or secret-JSON key (those may
/// appear in rules legitimately).
fn checkable_secrets(vars: &VarSet, secret_keys: &[String]) -> Vec<String> {
    let mut public: Vec<&str> = secret_keys.iter().map(String::as_str).collect();
    let mut secret = Vec::new();
    for name in vars.names() {
        let value = vars.get(name).unwrap_or_default();
        public.push(name);
        match vars::kind_of(name) {
            Kind::Plain => public.push(value),
            Kind::Secret => {
                secret.push(value.to_owned());
                if name == ENCRYPTION_KEY_FALLBACKS
                    && let Ok(keys) = serde_json::from_str::<Vec<String>>(value)
                {
                    secret.extend(keys);
                }
            }
        }
    }
    secret
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| {
            s.chars().count() >= 6
                && s.chars().any(|c| !(' '..='~').contains(&c))
                && !public.iter().any(|p| p.contains(s.as_str()))
        })
        .collect()
}
