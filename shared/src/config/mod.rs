//! The runtime contract: every operator setting the system reads, as one typed
//! [`RuntimeConfig`], validated all at once (see `docs/production_env_checklist.md`).

mod checks;
pub mod process;
mod rules;
pub mod source;
pub mod vars;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Serialize;

pub use rules::validate;
pub use source::VarSet;

/// Whether this build bundles the forecasting engine ("prophet"): the cargo
/// feature `prophet` of `valdrix-shared`. The default build does not.
pub const FORECASTER_BUNDLED: bool = cfg!(feature = "prophet");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Local,
    Development,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// Staging and production get the strict rules.
    pub fn is_strict(self) -> bool {
        matches!(self, Self::Staging | Self::Production)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: the variable's name and what it must be. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub variable: String,
    pub rule: String,
}

impl Violation {
    pub fn new(variable: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.rule)
    }
}

/// Where tenant data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    DynamoDb {
        table: String,
        /// An emulator endpoint (DynamoDB Local); never in staging/production.
        endpoint: Option<String>,
        region: Option<String>,
    },
    /// The embedded store of `valdrix serve`; never in staging/production.
    Sqlite { path: String },
}

impl StoreUrl {
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::DynamoDb { .. } => "dynamodb://",
            Self::Sqlite { .. } => "sqlite://",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    Openai,
    Claude,
    Anthropic,
    Google,
    Groq,
}

impl LlmProvider {
    pub const ALL: [LlmProvider; 5] = [
        Self::Openai,
        Self::Claude,
        Self::Anthropic,
        Self::Google,
        Self::Groq,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Claude => "claude",
            Self::Anthropic => "anthropic",
            Self::Google => "google",
            Self::Groq => "groq",
        }
    }

    /// The variables that can hold this provider's key, in order of preference.
    pub fn key_variables(self) -> &'static [&'static str] {
        use vars::*;
        match self {
            Self::Openai => &[OPENAI_API_KEY],
            Self::Claude => &[CLAUDE_API_KEY],
            Self::Anthropic => &[ANTHROPIC_API_KEY, CLAUDE_API_KEY],
            Self::Google => &[GOOGLE_API_KEY],
            Self::Groq => &[GROQ_API_KEY],
        }
    }
}

pub struct Llm {
    pub provider: LlmProvider,
    pub api_key: Option<SecretString>,
}

/// How forecasting runs in this deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forecaster {
    Bundled,
    /// Outside staging/production the fallback needs no waiver.
    HoltWinters,
    /// The break-glass waiver in force in staging/production.
    HoltWintersBreakGlass {
        reason: String,
        expires_at: DateTime<Utc>,
    },
}

/// The validated contract. Secrets are wrapped so Debug never prints them.
pub struct RuntimeConfig {
    pub environment: Environment,
    pub store: Option<StoreUrl>,
    pub supabase_jwt_secret: SecretString,
    pub supabase_jwt_issuer: Option<String>,
    pub encryption_key: SecretString,
    pub encryption_key_fallbacks: Vec<SecretString>,
    pub kdf_salt: SecretBox<[u8; 32]>,
    pub csrf_secret_key: SecretString,
    pub admin_api_key: Option<SecretString>,
    pub cors_origins: Vec<String>,
    pub llm: Option<Llm>,
    pub paystack_secret_key: Option<SecretString>,
    pub paystack_public_key: Option<String>,
    pub strict_integrations: bool,
    pub slack_bot_token: Option<SecretString>,
    pub forecaster: Forecaster,
    pub allow_private_outbound: bool,
    /// Slack and GitHub API bases other than the vendors' (local fakes only).
    pub slack_api_url: Option<url::Url>,
    pub github_api_url: Option<url::Url>,
    /// Where compliance packs go (the functions that export need it).
    pub pack_bucket: Option<String>,
    /// Where dead policy deliveries go (the dispatcher needs it).
    pub dead_letter_queue_url: Option<url::Url>,
    /// Where cost files continue in the next invocation (cost-ingest needs it).
    pub ingest_queue_url: Option<url::Url>,
    /// Where the daily evidence run queues one message per tenant
    /// (evidence-daily needs it).
    pub daily_run_queue_url: Option<url::Url>,
    /// The KMS key the audit checkpoints are signed with (the functions that
    /// sign need it).
    pub audit_signing_key: Option<String>,
    /// The Lambda function export jobs are handed to (compliance-export
    /// needs it).
    pub pack_worker: Option<String>,
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("environment", &self.environment)
            .field("store", &self.store)
            .field("supabase_jwt_issuer", &self.supabase_jwt_issuer)
            .field("cors_origins", &self.cors_origins)
            .field("llm_provider", &self.llm.as_ref().map(|l| l.provider))
            .field("strict_integrations", &self.strict_integrations)
            .field("forecaster", &self.forecaster)
            .field("allow_private_outbound", &self.allow_private_outbound)
            .field("slack_api_url", &self.slack_api_url)
            .field("github_api_url", &self.github_api_url)
            .field("pack_bucket", &self.pack_bucket)
            .field("dead_letter_queue_url", &self.dead_letter_queue_url)
            .field("ingest_queue_url", &self.ingest_queue_url)
            .field("daily_run_queue_url", &self.daily_run_queue_url)
            .field("audit_signing_key", &self.audit_signing_key)
            .field("pack_worker", &self.pack_worker)
            .finish_non_exhaustive()
    }
}

impl RuntimeConfig {
    /// Every secret value this config holds, for redaction: a log line, audit
    /// detail or export that contains one of these is scrubbed.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut out = vec![
            self.supabase_jwt_secret.expose_secret(),
            self.encryption_key.expose_secret(),
            self.csrf_secret_key.expose_secret(),
        ];
        out.extend(
            self.encryption_key_fallbacks
                .iter()
                .map(|s| s.expose_secret()),
        );
        for s in [
            &self.admin_api_key,
            &self.paystack_secret_key,
            &self.slack_bot_token,
        ]
        .into_iter()
        .flatten()
        {
            out.push(s.expose_secret());
        }
        if let Some(key) = self.llm.as_ref().and_then(|l| l.api_key.as_ref()) {
            out.push(key.expose_secret());
        }
        out
    }
}

/// Read the process env (and the runtime secret when one is named), then
/// validate. `environment` overrides `ENVIRONMENT` when given.
pub async fn load(
    vars: VarSet,
    environment: Option<Environment>,
    now: DateTime<Utc>,
) -> Result<RuntimeConfig, Vec<Violation>> {
    load_with(vars, environment, now, &crate::aws::Aws::default()).await
}

/// [`load`] with the process's one AWS configuration (a function's cold
/// start reads the secret and opens its clients with the same one).
pub async fn load_with(
    mut vars: VarSet,
    environment: Option<Environment>,
    now: DateTime<Utc>,
    aws: &crate::aws::Aws,
) -> Result<RuntimeConfig, Vec<Violation>> {
    if let Some(env) = environment {
        vars.set(vars::ENVIRONMENT, env.as_str());
    }
    if let Err(violation) = source::merge_runtime_secret(&mut vars, aws).await {
        // Still validate what env holds, so the operator sees every problem at once.
        let mut all = vec![violation];
        if let Err(more) = validate(&vars, now) {
            all.extend(more);
        }
        return Err(all);
    }
    validate(&vars, now)
}

/// Parse a store URL alone (for `valdrix migrate`), under the environment that
/// `vars` names — an unknown one is judged as production, as in [`validate`].
pub fn parse_store_url(raw: &str, vars: &VarSet) -> Result<StoreUrl, Violation> {
    let env = vars
        .get(vars::ENVIRONMENT)
        .map_or(Ok(Environment::Development), checks::environment)
        .unwrap_or(Environment::Production);
    checks::database_url(raw, env).map_err(|rule| Violation::new(vars::DATABASE_URL, rule))
}
