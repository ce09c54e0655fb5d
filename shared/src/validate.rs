//! Small input checks shared by the domain modules, each answering with the
//! rule the value broke (never echoing the value).

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

pub fn email(value: &str) -> Result<(), String> {
    let valid = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
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

/// Between `min` and `max` characters.
pub fn length(value: &str, min: usize, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else if min <= 1 {
        Err(format!("must be at most {max} characters"))
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
            "", "a", "a@b", "@b.io", "a b@c.io", "a@.io", "a@b.io.", "a@b@c.io",
        ] {
            assert!(email(bad).is_err(), "{bad}");
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
}
