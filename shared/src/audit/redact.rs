//! Redaction of audit details before they are hashed and stored: a key that
//! names a secret, or a string holding a known secret value, becomes
//! `***REDACTED***`. `has_*` flags stay, since they only say whether a secret exists.

use serde_json::Value;

pub const REDACTED: &str = "***REDACTED***";

/// Parts of a key that mark its value as secret.
const SECRET_KEY_MARKERS: [&str; 10] = [
    "secret",
    "token",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "authorization",
    "private_key",
    "signing_key",
    "credential",
];

/// Secret values shorter than this are not searched for inside strings: a
/// short value would match innocent text.
const MIN_SEARCHED_SECRET: usize = 8;

#[derive(Clone, Default)]
pub struct Redactor {
    known: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} known secrets)", self.known.len())
    }
}

impl Redactor {
    pub fn new<S: AsRef<str>>(known: impl IntoIterator<Item = S>) -> Self {
        let mut known: Vec<String> = known
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        known.sort();
        known.dedup();
        Self { known }
    }

    /// A redactor that also knows `extra` (say, one tenant's integration secrets).
    pub fn with<S: AsRef<str>>(&self, extra: impl IntoIterator<Item = S>) -> Self {
        let mut known = self.known.clone();
        known.extend(extra.into_iter().map(|s| s.as_ref().to_owned()));
        Self::new(known)
    }

    pub fn redact(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if key_is_secret(k) && !v.is_null() && !v.is_boolean() {
                            Value::String(REDACTED.into())
                        } else {
                            self.redact(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.redact(v)).collect()),
            Value::String(s) if self.holds_secret(s) => Value::String(REDACTED.into()),
            other => other.clone(),
        }
    }

    /// True when `text` is, or contains, a known secret.
    pub fn holds_secret(&self, text: &str) -> bool {
        self.known.iter().any(|secret| {
            text == secret
                || (secret.len() >= MIN_SEARCHED_SECRET && text.contains(secret.as_str()))
        })
    }
}

fn key_is_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    !lower.starts_with("has_") && SECRET_KEY_MARKERS.iter().any(|m| lower.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_and_known_values_are_redacted() {
        let r = Redactor::new(["xoxb-very-secret-token", "abc"]);
        let out = r.redact(&json!({
            "jira_api_token": "t0k3n",
            "has_jira_api_token": true,
            "Authorization": "Bearer x",
            "nested": {"note": "sent with xoxb-very-secret-token inside", "list": ["abc", "abcd"]},
            "count": 3,
            "workflow_github_token": null,
        }));
        assert_eq!(
            out,
            json!({
                "jira_api_token": REDACTED,
                "has_jira_api_token": true,
                "Authorization": REDACTED,
                "nested": {"note": REDACTED, "list": [REDACTED, "abcd"]},
                "count": 3,
                "workflow_github_token": null,
            })
        );
    }

    #[test]
    fn with_adds_extra_secrets() {
        let r = Redactor::new(["one-secret-value"]).with(["two-secret-value"]);
        assert!(r.holds_secret("x two-secret-value y"));
        assert!(r.holds_secret("one-secret-value"));
        assert!(!r.holds_secret("nothing here"));
        assert!(!format!("{r:?}").contains("secret-value"));
    }
}
