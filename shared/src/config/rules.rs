//! The contract's rules over a [`VarSet`]: every violation is collected, none
//! stops the others, and no rule text ever holds a value.

use chrono::{DateTime, Duration, Utc};
use secrecy::{SecretBox, SecretString};

use super::checks::{self, Rule};
use super::vars::{self, *};
use super::{
    Environment, FORECASTER_BUNDLED, Forecaster, Llm, LlmProvider, RuntimeConfig, VarSet, Violation,
};

const DEFAULT_BREAK_GLASS_HOURS: i64 = 168;
const MIN_BREAK_GLASS_REASON_CHARS: usize = 10;

struct Checker<'a> {
    vars: &'a VarSet,
    violations: Vec<Violation>,
}

impl<'a> Checker<'a> {
    fn fail(&mut self, name: &str, rule: impl Into<String>) {
        self.violations.push(Violation::new(name, rule));
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.vars.get(name)
    }

    /// Run `check` on the value when set; record its rule when it fails.
    fn parse<T>(&mut self, name: &str, check: impl FnOnce(&str) -> Result<T, Rule>) -> Option<T> {
        let raw = self.get(name)?;
        match check(raw) {
            Ok(v) => Some(v),
            Err(rule) => {
                self.fail(name, rule);
                None
            }
        }
    }

    /// Like `parse`, but unset is itself a violation.
    fn require<T>(
        &mut self,
        name: &str,
        unset_rule: &str,
        check: impl FnOnce(&str) -> Result<T, Rule>,
    ) -> Option<T> {
        if self.get(name).is_none() {
            self.fail(name, unset_rule);
            return None;
        }
        self.parse(name, check)
    }

    fn boolean(&mut self, name: &str) -> bool {
        self.parse(name, checks::boolean).unwrap_or(false)
    }

    fn strong_secret(&mut self, name: &str) -> Option<SecretString> {
        let unset = format!(
            "must be set to a random value of at least {} characters",
            checks::MIN_SECRET_CHARS
        );
        self.require(name, &unset, |raw| {
            checks::strong_secret(raw).map(|()| SecretString::from(raw))
        })
    }

    fn optional_secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }
}

/// Check every rule of the contract against `vars` at time `now`.
pub fn validate(vars: &VarSet, now: DateTime<Utc>) -> Result<RuntimeConfig, Vec<Violation>> {
    let mut c = Checker {
        vars,
        violations: Vec::new(),
    };

    // An unknown environment is judged by the strictest rules: never a silent downgrade.
    let environment = match c.get(ENVIRONMENT) {
        None => Environment::Development,
        Some(raw) => checks::environment(raw).unwrap_or_else(|rule| {
            c.fail(ENVIRONMENT, rule);
            Environment::Production
        }),
    };
    let strict = environment.is_strict();
    let production = environment == Environment::Production;

    let supabase_jwt_secret = c.strong_secret(SUPABASE_JWT_SECRET);
    let encryption_key = c.strong_secret(ENCRYPTION_KEY);
    let csrf_secret_key = c.strong_secret(CSRF_SECRET_KEY);
    let kdf_salt = c.require(
        KDF_SALT,
        "must be set to standard base64 of 32 random bytes",
        checks::kdf_salt,
    );
    let encryption_key_fallbacks = c
        .parse(ENCRYPTION_KEY_FALLBACKS, fallback_keys)
        .unwrap_or_default();

    let admin_api_key = if strict {
        c.strong_secret(ADMIN_API_KEY)
    } else {
        c.optional_secret(ADMIN_API_KEY)
    };

    let store = if strict {
        c.require(
            DATABASE_URL,
            "must be set in staging and production",
            |raw| checks::database_url(raw, environment),
        )
    } else {
        c.parse(DATABASE_URL, |raw| checks::database_url(raw, environment))
    };

    let cors_origins = if strict {
        c.require(
            CORS_ORIGINS,
            r#"must be set in staging and production, e.g. ["https://app.example.com"]"#,
            |raw| checks::cors_origins(raw, true),
        )
    } else {
        c.parse(CORS_ORIGINS, |raw| checks::cors_origins(raw, false))
    }
    .unwrap_or_default();

    let llm = llm_settings(&mut c, production);
    let (paystack_secret_key, paystack_public_key) = paystack(&mut c, production);

    let parsed_strict = c.parse(SAAS_STRICT_INTEGRATIONS, checks::boolean);
    // A malformed value was reported by `parse`; only a valid false or unset remains.
    if production
        && parsed_strict != Some(true)
        && (parsed_strict.is_some() || c.get(SAAS_STRICT_INTEGRATIONS).is_none())
    {
        c.fail(SAAS_STRICT_INTEGRATIONS, "must be true in production");
    }
    let strict_integrations = parsed_strict.unwrap_or(false);
    if strict_integrations {
        let forbidden: Vec<&str> = vars
            .names()
            .filter(|n| vars::is_strict_forbidden(n))
            .collect();
        for name in forbidden {
            c.fail(
                name,
                "must be unset or empty when SAAS_STRICT_INTEGRATIONS is true: tenants configure integrations in the product",
            );
        }
    }

    let forecaster = forecaster(&mut c, strict, now);

    let allow_private_outbound = c.boolean(VALDRIX_ALLOW_PRIVATE_OUTBOUND);
    if strict && allow_private_outbound {
        c.fail(
            VALDRIX_ALLOW_PRIVATE_OUTBOUND,
            "must not be true in staging or production",
        );
    }

    let pack_bucket = c.parse(VALDRIX_PACK_BUCKET, checks::bucket_name);
    let dead_letter_queue_url = c.parse(VALDRIX_DEAD_LETTER_QUEUE_URL, |raw| {
        checks::queue_url(raw, strict)
    });
    let ingest_queue_url = c.parse(VALDRIX_INGEST_QUEUE_URL, |raw| {
        checks::queue_url(raw, strict)
    });
    let daily_run_queue_url = c.parse(VALDRIX_DAILY_RUN_QUEUE_URL, |raw| {
        checks::queue_url(raw, strict)
    });
    let audit_signing_key = c.parse(VALDRIX_AUDIT_SIGNING_KEY, checks::kms_key_arn);
    let pack_worker = c.parse(VALDRIX_PACK_WORKER, checks::lambda_function_arn);
    let slack_api_url = vendor_api(&mut c, VALDRIX_SLACK_API_URL, strict);
    let github_api_url = vendor_api(&mut c, VALDRIX_GITHUB_API_URL, strict);

    let supabase_jwt_issuer = c.get(SUPABASE_JWT_ISSUER).map(str::to_owned);
    let slack_bot_token = c.optional_secret(SLACK_BOT_TOKEN);

    match (
        c.violations.is_empty(),
        supabase_jwt_secret,
        encryption_key,
        csrf_secret_key,
        kdf_salt,
        forecaster,
    ) {
        (
            true,
            Some(supabase_jwt_secret),
            Some(encryption_key),
            Some(csrf_secret_key),
            Some(kdf_salt),
            Some(forecaster),
        ) => Ok(RuntimeConfig {
            environment,
            store,
            supabase_jwt_secret,
            supabase_jwt_issuer,
            encryption_key,
            encryption_key_fallbacks,
            kdf_salt: SecretBox::new(Box::new(kdf_salt)),
            csrf_secret_key,
            admin_api_key,
            cors_origins,
            llm,
            paystack_secret_key,
            paystack_public_key,
            strict_integrations,
            slack_bot_token,
            forecaster,
            allow_private_outbound,
            slack_api_url,
            github_api_url,
            pack_bucket,
            dead_letter_queue_url,
            ingest_queue_url,
            daily_run_queue_url,
            audit_signing_key,
            pack_worker,
        }),
        _ => Err(c.violations),
    }
}

/// A vendor API base URL override (a local fake receiver): http(s), never in
/// staging or production, where the vendors' own endpoints are fixed.
fn vendor_api(c: &mut Checker, name: &str, strict: bool) -> Option<url::Url> {
    if strict && c.get(name).is_some() {
        c.fail(name, "must be unset in staging and production");
        return None;
    }
    c.parse(name, checks::base_url)
}

fn fallback_keys(raw: &str) -> Result<Vec<SecretString>, Rule> {
    let list: Vec<String> =
        serde_json::from_str(raw).map_err(|_| Rule::from("must be a JSON array of strings"))?;
    list.iter()
        .enumerate()
        .map(|(i, key)| {
            checks::strong_secret(key)
                .map(|()| SecretString::from(key.as_str()))
                .map_err(|rule| format!("entry {i} {rule}"))
        })
        .collect()
}

fn llm_settings(c: &mut Checker, production: bool) -> Option<Llm> {
    let known = LlmProvider::ALL.map(LlmProvider::as_str).join(", ");
    let provider = c.parse(LLM_PROVIDER, |raw| {
        LlmProvider::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| format!("must be one of {known}"))
    });
    match provider {
        None => {
            if production && c.get(LLM_PROVIDER).is_none() {
                c.fail(
                    LLM_PROVIDER,
                    format!("must be set in production to one of {known}"),
                );
            }
            None
        }
        Some(provider) => {
            let keys = provider.key_variables();
            let api_key = keys.iter().find_map(|k| c.optional_secret(k));
            if production && api_key.is_none() {
                c.fail(
                    keys[0],
                    format!(
                        "must be set: LLM_PROVIDER is {} and needs {}",
                        provider.as_str(),
                        keys.join(" or ")
                    ),
                );
            }
            Some(Llm { provider, api_key })
        }
    }
}

fn paystack(c: &mut Checker, production: bool) -> (Option<SecretString>, Option<String>) {
    if production {
        for (name, prefix) in [
            (PAYSTACK_SECRET_KEY, "sk_live_"),
            (PAYSTACK_PUBLIC_KEY, "pk_live_"),
        ] {
            if !c.get(name).is_some_and(|v| v.starts_with(prefix)) {
                c.fail(
                    name,
                    format!("must be a live key starting with {prefix} in production"),
                );
            }
        }
    }
    (
        c.optional_secret(PAYSTACK_SECRET_KEY),
        c.get(PAYSTACK_PUBLIC_KEY).map(str::to_owned),
    )
}

/// The forecaster rules. `None` only when a violation was recorded.
fn forecaster(c: &mut Checker, strict: bool, now: DateTime<Utc>) -> Option<Forecaster> {
    let fallback = c.parse(FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK, checks::boolean);
    let max_hours = c
        .parse(
            FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS,
            checks::positive_hours,
        )
        .unwrap_or(DEFAULT_BREAK_GLASS_HOURS);
    if FORECASTER_BUNDLED {
        return Some(Forecaster::Bundled);
    }
    if !strict {
        return Some(Forecaster::HoltWinters);
    }
    let before = c.violations.len();
    // A malformed flag was already reported by `parse`.
    let malformed = fallback.is_none() && c.get(FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK).is_some();
    if fallback != Some(true) && !malformed {
        c.fail(
            FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK,
            "must be true in staging and production: this build does not bundle the forecaster (prophet), so a break-glass waiver is required",
        );
    }
    let reason = c.require(
        FORECASTER_BREAK_GLASS_REASON,
        "must be set: the incident or ticket reference of the waiver",
        |raw| {
            let trimmed = raw.trim();
            if trimmed.chars().count() < MIN_BREAK_GLASS_REASON_CHARS {
                Err(format!(
                    "must be at least {MIN_BREAK_GLASS_REASON_CHARS} characters after trimming"
                ))
            } else {
                Ok(trimmed.to_owned())
            }
        },
    );
    let expires_at = c.require(
        FORECASTER_BREAK_GLASS_EXPIRES_AT,
        "must be set: when the waiver ends, e.g. 2026-02-22T10:00:00Z",
        |raw| {
            let at = checks::timestamp_with_offset(raw)?;
            if at <= now {
                Err("is not in the future: the waiver has expired".into())
            } else if at > now + Duration::hours(max_hours) {
                Err(format!(
                    "is more than {max_hours} hour(s) ahead (FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS)"
                ))
            } else {
                Ok(at)
            }
        },
    );
    match (reason, expires_at) {
        (Some(reason), Some(expires_at)) if c.violations.len() == before => {
            Some(Forecaster::HoltWintersBreakGlass { reason, expires_at })
        }
        _ => None,
    }
}
