//! Checks of single values. Each returns the parsed value or the rule the value
//! broke, worded so it can be shown without the value itself.

use base64::Engine;
use chrono::{DateTime, Utc};
use url::{Host, Url};

use super::{Environment, StoreUrl};

pub type Rule = String;

/// true/false/1/0/yes/no/on/off in any case (surrounding spaces ignored).
pub fn boolean(raw: &str) -> Result<bool, Rule> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be a boolean: true/false, 1/0, yes/no or on/off".into()),
    }
}

pub fn environment(raw: &str) -> Result<Environment, Rule> {
    match raw {
        "local" => Ok(Environment::Local),
        "development" => Ok(Environment::Development),
        "staging" => Ok(Environment::Staging),
        "production" => Ok(Environment::Production),
        _ => Err(
            "must be exactly one of local, development, staging, production (lowercase, no spaces)"
                .into(),
        ),
    }
}

pub const MIN_SECRET_CHARS: usize = 32;

/// Words that mark a value copied from a template rather than generated.
const PLACEHOLDER_MARKERS: [&str; 9] = [
    "change_me",
    "changeme",
    "change-me",
    "replace_me",
    "replaceme",
    "placeholder",
    "default",
    "your_",
    "example",
];

/// A key of at least 32 characters that is not an obvious placeholder.
pub fn strong_secret(raw: &str) -> Result<(), Rule> {
    let chars = raw.chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(format!(
            "must be at least {MIN_SECRET_CHARS} characters (has {chars})"
        ));
    }
    let lower = raw.trim().to_ascii_lowercase();
    if PLACEHOLDER_MARKERS.iter().any(|m| lower.contains(m)) {
        return Err(
            "looks like a placeholder (change_me, default, example, ...): generate a random value"
                .into(),
        );
    }
    let mut distinct = lower.chars().collect::<Vec<_>>();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(
            "looks like a placeholder (too few distinct characters): generate a random value"
                .into(),
        );
    }
    Ok(())
}

/// Standard base64 (with padding) of exactly 32 bytes.
pub fn kdf_salt(raw: &str) -> Result<[u8; 32], Rule> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| Rule::from("is not valid standard base64"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "decodes to {} bytes; must be exactly 32 (e.g. `openssl rand -base64 32`)",
            bytes.len()
        )
    })
}

/// `CORS_ORIGINS`: a JSON array of origins. Strict environments accept only
/// `https://host[:port]` on a public name.
pub fn cors_origins(raw: &str, strict: bool) -> Result<Vec<String>, Rule> {
    let list: Vec<String> = serde_json::from_str(raw).map_err(|_| {
        Rule::from(r#"must be a JSON array of strings, e.g. ["https://app.example.com"]"#)
    })?;
    let mut origins = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        origins.push(origin(entry, strict).map_err(|why| format!("entry {i} {why}"))?);
    }
    if strict && origins.is_empty() {
        return Err("must list at least one https origin".into());
    }
    Ok(origins)
}

fn origin(entry: &str, strict: bool) -> Result<String, Rule> {
    if entry.contains('*') {
        return Err("must not be a wildcard (*)".into());
    }
    let url = Url::parse(entry).map_err(|_| Rule::from("is not an origin URL"))?;
    let serialized = url.origin().ascii_serialization();
    if serialized != entry {
        return Err("must be exactly scheme://host[:port]: no path, trailing slash, query, user or default port".into());
    }
    if strict {
        if url.scheme() != "https" {
            return Err("must use https".into());
        }
        if is_loopback_host(url.host()) {
            return Err("must not be localhost or a loopback address".into());
        }
    } else if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http or https".into());
    }
    Ok(serialized)
}

fn is_loopback_host(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => true,
    }
}

/// DynamoDB table names: 3–255 of `[A-Za-z0-9_.-]`.
fn table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `dynamodb://<table>[?endpoint=http://…&region=…]` or `sqlite://<path>`.
pub fn database_url(raw: &str, env: Environment) -> Result<StoreUrl, Rule> {
    if let Some(rest) = raw.strip_prefix("sqlite://") {
        if env.is_strict() {
            return Err("the embedded sqlite:// store is refused in staging and production; use dynamodb://<table>".into());
        }
        if rest.is_empty() {
            return Err("sqlite:// needs a file path".into());
        }
        return Ok(StoreUrl::Sqlite { path: rest.into() });
    }
    let Some(rest) = raw.strip_prefix("dynamodb://") else {
        return Err("must start with dynamodb:// or sqlite://".into());
    };
    let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !table_name(table) {
        return Err("dynamodb:// needs a table name of 3-255 letters, digits, _ . or -".into());
    }
    let mut endpoint = None;
    let mut region = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "endpoint" => endpoint = Some(value.into_owned()),
            "region" => region = Some(value.into_owned()),
            other => {
                return Err(format!(
                    "unknown parameter `{other}` (known: endpoint, region)"
                ));
            }
        }
    }
    if let Some(ep) = &endpoint {
        if env.is_strict() {
            return Err("an emulator ?endpoint= is refused in staging and production".into());
        }
        let parsed = Url::parse(ep).map_err(|_| Rule::from("endpoint is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("endpoint must be an http(s) URL".into());
        }
    }
    Ok(StoreUrl::DynamoDb {
        table: table.into(),
        endpoint,
        region,
    })
}

/// An http(s) base URL, kept with a trailing slash so relative API paths join under it.
pub fn base_url(raw: &str) -> Result<Url, Rule> {
    let mut url = Url::parse(raw).map_err(|_| Rule::from("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http(s) URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query or fragment".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// An RFC 3339 timestamp with `Z` or an explicit offset; a bare date or a
/// time without offset is refused.
pub fn timestamp_with_offset(raw: &str) -> Result<DateTime<Utc>, Rule> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            "must be an RFC 3339 timestamp with Z or an offset, e.g. 2026-02-22T10:00:00Z".into()
        })
}

pub fn positive_hours(raw: &str) -> Result<i64, Rule> {
    match raw.trim().parse::<i64>() {
        Ok(h) if (1..=8760).contains(&h) => Ok(h),
        _ => Err("must be a whole number of hours from 1 to 8760".into()),
    }
}

/// An S3 bucket name: 3-63 of lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit.
pub fn bucket_name(raw: &str) -> Result<String, Rule> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(raw.chars().next())
        && edge(raw.chars().last());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')".into())
    }
}

/// A KMS key: its ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`),
/// what the template sets.
pub fn kms_key_arn(raw: &str) -> Result<String, Rule> {
    let parts: Vec<&str> = raw.split(':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)".into())
    }
}

/// A Lambda function ARN, with or without a version or alias qualifier
/// (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]).
pub fn lambda_function_arn(raw: &str) -> Result<String, Rule> {
    let parts: Vec<&str> = raw.split(':').collect();
    let name_ok = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let qualifier_ok = |s: &str| {
        (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$')
    };
    let valid = (parts.len() == 7 || parts.len() == 8)
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "function"
        && name_ok(parts[6])
        && parts.get(7).is_none_or(|q| qualifier_ok(q));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias>])".into())
    }
}

/// An SQS queue URL: https, or http outside staging and production (an emulator).
pub fn queue_url(raw: &str, strict: bool) -> Result<url::Url, Rule> {
    let url = url::Url::parse(raw).map_err(|_| Rule::from("must be an SQS queue URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if !strict => {}
        _ => return Err("must be an https SQS queue URL".into()),
    }
    if url.host_str().is_none() || url.path().trim_matches('/').is_empty() {
        return Err(
            "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)".into(),
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_key_arns_are_held_to_their_shape() {
        let ok = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(kms_key_arn(ok).as_deref(), Ok(ok));
        for bad in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/valdrix",
            "arn:aws:kms:us-east-1:123456789012:alias/valdrix",
            "arn:aws:s3:us-east-1:123456789012:key/abc",
            "arn:aws:kms:us-east-1:1234:key/abc",
            "arn:aws:kms:us-east-1:123456789012:key/",
        ] {
            assert!(kms_key_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lambda_function_arns_are_held_to_their_shape() {
        for ok in [
            "arn:aws:lambda:us-east-1:123456789012:function:valdrix-CompliancePackWorker-AbC123",
            "arn:aws:lambda:us-east-1:123456789012:function:worker:live",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:worker:$LATEST",
        ] {
            assert_eq!(lambda_function_arn(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "worker",
            "arn:aws:lambda:us-east-1:123456789012:worker",
            "arn:aws:lambda:us-east-1:1234:function:worker",
            "arn:aws:s3:us-east-1:123456789012:function:worker",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "arn:aws:lambda:us-east-1:123456789012:function:a/b",
            "arn:aws:lambda:us-east-1:123456789012:function:worker:live:extra",
        ] {
            assert!(lambda_function_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn booleans_accept_every_documented_form() {
        for yes in ["true", "TRUE", "1", "yes", "Yes", "on", "ON", " true "] {
            assert_eq!(boolean(yes), Ok(true), "{yes}");
        }
        for no in ["false", "False", "0", "no", "NO", "off", "Off"] {
            assert_eq!(boolean(no), Ok(false), "{no}");
        }
        for bad in ["t", "y", "2", "enabled", "truee", ""] {
            assert!(boolean(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_is_an_exact_enum() {
        assert_eq!(environment("production"), Ok(Environment::Production));
        assert_eq!(environment("local"), Ok(Environment::Local));
        for bad in [
            "prod",
            "Production",
            "production ",
            "PRODUCTION",
            "dev",
            "test",
        ] {
            assert!(environment(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_length_boundary_is_32_characters() {
        let k31 = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1d";
        assert_eq!(k31.len(), 31);
        assert!(strong_secret(k31).unwrap_err().contains("has 31"));
        assert_eq!(strong_secret(&format!("{k31}x")), Ok(()));
    }

    #[test]
    fn placeholders_are_refused_even_when_long() {
        for bad in [
            "change_me_change_me_change_me_change_me",
            "dev_secret_key_change_me_in_prod",
            "CHANGEME-CHANGEME-CHANGEME-CHANGEME",
            "default-default-default-default-default",
            "your_secret_key_here_make_it_32_chars",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(
                strong_secret(bad).unwrap_err().contains("placeholder"),
                "{bad}"
            );
        }
    }

    #[test]
    fn kdf_salt_names_what_is_wrong() {
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(kdf_salt(&good), Ok([7u8; 32]));
        assert_eq!(
            kdf_salt("not base64 !!").unwrap_err(),
            "is not valid standard base64"
        );
        assert!(
            kdf_salt("YQ==")
                .unwrap_err()
                .starts_with("decodes to 1 bytes")
        );
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 31]);
        assert!(
            kdf_salt(&short)
                .unwrap_err()
                .starts_with("decodes to 31 bytes")
        );
        let long = base64::engine::general_purpose::STANDARD.encode([1u8; 33]);
        assert!(
            kdf_salt(&long)
                .unwrap_err()
                .starts_with("decodes to 33 bytes")
        );
        // URL-safe alphabet is not standard base64.
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfbu8; 32]);
        assert!(kdf_salt(&url_safe).is_err());
    }

    #[test]
    fn cors_rules_in_strict_environments() {
        assert_eq!(
            cors_origins(
                r#"["https://app.example.com","https://a.example.com:8443"]"#,
                true
            ),
            Ok(vec![
                "https://app.example.com".to_string(),
                "https://a.example.com:8443".to_string()
            ])
        );
        let cases = [
            (r#"https://app.example.com"#, "JSON array"),
            (r#"["*"]"#, "wildcard"),
            (r#"["https://*.example.com"]"#, "wildcard"),
            (r#"["http://app.example.com"]"#, "https"),
            (r#"["https://app.example.com/"]"#, "no path"),
            (r#"["https://app.example.com/app"]"#, "no path"),
            (r#"["https://localhost"]"#, "localhost"),
            (r#"["https://127.0.0.1:3000"]"#, "loopback"),
            (r#"["https://[::1]"]"#, "loopback"),
            (r#"["https://0.0.0.0"]"#, "loopback"),
            (r#"[]"#, "at least one"),
            (r#"[1]"#, "JSON array"),
        ];
        for (raw, expected) in cases {
            let err = cors_origins(raw, true).unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn cors_outside_strict_allows_http_localhost_but_not_wildcards() {
        assert!(cors_origins(r#"["http://localhost:5173"]"#, false).is_ok());
        assert!(cors_origins(r#"["*"]"#, false).is_err());
        assert!(cors_origins(r#"[]"#, false).is_ok());
    }

    #[test]
    fn database_urls() {
        use Environment::*;
        assert_eq!(
            database_url("dynamodb://valdrix-prod", Production),
            Ok(StoreUrl::DynamoDb {
                table: "valdrix-prod".into(),
                endpoint: None,
                region: None
            })
        );
        assert!(database_url("dynamodb://t12?endpoint=http://127.0.0.1:8000", Development).is_ok());
        assert!(
            database_url("dynamodb://tab?endpoint=http://127.0.0.1:8000", Production)
                .unwrap_err()
                .contains("endpoint")
        );
        assert!(database_url("dynamodb://tab?endpoint=http://x", Staging).is_err());
        assert!(database_url("sqlite://.valdrix/db.sqlite", Local).is_ok());
        assert!(
            database_url("sqlite://x.db", Staging)
                .unwrap_err()
                .contains("refused")
        );
        assert!(database_url("sqlite://x.db", Production).is_err());
        assert!(database_url("postgres://db", Development).is_err());
        assert!(database_url("dynamodb://ab", Development).is_err());
        assert!(database_url("dynamodb://tab?foo=1", Development).is_err());
        assert!(database_url("sqlite://", Development).is_err());
    }

    #[test]
    fn timestamps_need_an_offset() {
        assert!(timestamp_with_offset("2026-02-22T10:00:00Z").is_ok());
        assert!(timestamp_with_offset("2026-02-22T12:00:00+02:00").is_ok());
        for bad in [
            "2026-02-22",
            "2026-02-22T10:00:00",
            "tomorrow",
            "1771754400",
        ] {
            assert!(timestamp_with_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(
            timestamp_with_offset("2026-02-22T12:00:00+02:00").unwrap(),
            timestamp_with_offset("2026-02-22T10:00:00Z").unwrap()
        );
    }

    #[test]
    fn hours_bounds() {
        assert_eq!(positive_hours("168"), Ok(168));
        for bad in ["0", "-1", "1.5", "x", "8761"] {
            assert!(positive_hours(bad).is_err(), "{bad}");
        }
    }
}
