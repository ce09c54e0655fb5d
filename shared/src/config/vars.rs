//! Every variable the runtime contract knows, with the one-line meaning that
//! `.env.example` and the docs repeat. A test keeps `.env.example` in step.

/// How a variable is treated in output: secrets are never printed anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Secret,
}

#[derive(Debug, Clone, Copy)]
pub struct KnownVar {
    pub name: &'static str,
    pub kind: Kind,
    pub meaning: &'static str,
}

const fn plain(name: &'static str, meaning: &'static str) -> KnownVar {
    KnownVar {
        name,
        kind: Kind::Plain,
        meaning,
    }
}

const fn secret(name: &'static str, meaning: &'static str) -> KnownVar {
    KnownVar {
        name,
        kind: Kind::Secret,
        meaning,
    }
}

pub const ENVIRONMENT: &str = "ENVIRONMENT";
pub const DATABASE_URL: &str = "DATABASE_URL";
pub const SUPABASE_JWT_SECRET: &str = "SUPABASE_JWT_SECRET";
pub const SUPABASE_JWT_ISSUER: &str = "SUPABASE_JWT_ISSUER";
pub const ENCRYPTION_KEY: &str = "ENCRYPTION_KEY";
pub const ENCRYPTION_KEY_FALLBACKS: &str = "ENCRYPTION_KEY_FALLBACKS";
pub const KDF_SALT: &str = "KDF_SALT";
pub const CSRF_SECRET_KEY: &str = "CSRF_SECRET_KEY";
pub const ADMIN_API_KEY: &str = "ADMIN_API_KEY";
pub const CORS_ORIGINS: &str = "CORS_ORIGINS";
pub const LLM_PROVIDER: &str = "LLM_PROVIDER";
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
pub const CLAUDE_API_KEY: &str = "CLAUDE_API_KEY";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
pub const GOOGLE_API_KEY: &str = "GOOGLE_API_KEY";
pub const GROQ_API_KEY: &str = "GROQ_API_KEY";
pub const PAYSTACK_SECRET_KEY: &str = "PAYSTACK_SECRET_KEY";
pub const PAYSTACK_PUBLIC_KEY: &str = "PAYSTACK_PUBLIC_KEY";
pub const SAAS_STRICT_INTEGRATIONS: &str = "SAAS_STRICT_INTEGRATIONS";
pub const SLACK_BOT_TOKEN: &str = "SLACK_BOT_TOKEN";
pub const FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK: &str = "FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK";
pub const FORECASTER_BREAK_GLASS_REASON: &str = "FORECASTER_BREAK_GLASS_REASON";
pub const FORECASTER_BREAK_GLASS_EXPIRES_AT: &str = "FORECASTER_BREAK_GLASS_EXPIRES_AT";
pub const FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS: &str =
    "FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS";
pub const VALDRIX_RUNTIME_SECRET_ARN: &str = "VALDRIX_RUNTIME_SECRET_ARN";
pub const VALDRIX_RUNTIME_SECRET_VERSION: &str = "VALDRIX_RUNTIME_SECRET_VERSION";
pub const VALDRIX_ALLOW_PRIVATE_OUTBOUND: &str = "VALDRIX_ALLOW_PRIVATE_OUTBOUND";
pub const VALDRIX_SLACK_API_URL: &str = "VALDRIX_SLACK_API_URL";
pub const VALDRIX_GITHUB_API_URL: &str = "VALDRIX_GITHUB_API_URL";
pub const VALDRIX_PACK_BUCKET: &str = "VALDRIX_PACK_BUCKET";
pub const VALDRIX_DEAD_LETTER_QUEUE_URL: &str = "VALDRIX_DEAD_LETTER_QUEUE_URL";
pub const VALDRIX_INGEST_QUEUE_URL: &str = "VALDRIX_INGEST_QUEUE_URL";
pub const VALDRIX_AUDIT_SIGNING_KEY: &str = "VALDRIX_AUDIT_SIGNING_KEY";
pub const VALDRIX_DAILY_RUN_QUEUE_URL: &str = "VALDRIX_DAILY_RUN_QUEUE_URL";
pub const VALDRIX_PACK_WORKER: &str = "VALDRIX_PACK_WORKER";

/// Operator-level integration variables that strict SaaS mode forbids: tenants
/// configure their integrations in the product, never through process env.
pub const STRICT_FORBIDDEN_EXACT: [&str; 5] = [
    "SLACK_CHANNEL_ID",
    "JIRA_BASE_URL",
    "JIRA_EMAIL",
    "JIRA_API_TOKEN",
    "JIRA_PROJECT_KEY",
];
pub const STRICT_FORBIDDEN_PREFIXES: [&str; 3] =
    ["GITHUB_ACTIONS_", "GITLAB_CI_", "GENERIC_CI_WEBHOOK_"];

/// True when strict SaaS mode forbids this variable.
pub fn is_strict_forbidden(name: &str) -> bool {
    STRICT_FORBIDDEN_EXACT.contains(&name)
        || STRICT_FORBIDDEN_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

pub const KNOWN: &[KnownVar] = &[
    plain(
        ENVIRONMENT,
        "local | development | staging | production (unset: development)",
    ),
    plain(
        DATABASE_URL,
        "tenant store: dynamodb://<table> or sqlite://<path> (sqlite and ?endpoint= only outside staging/production)",
    ),
    secret(
        SUPABASE_JWT_SECRET,
        "HS256 key of user JWTs; at least 32 characters",
    ),
    plain(
        SUPABASE_JWT_ISSUER,
        "expected `iss` of user JWTs; unset: not checked",
    ),
    secret(
        ENCRYPTION_KEY,
        "master key for tenant secrets at rest; at least 32 characters",
    ),
    secret(
        ENCRYPTION_KEY_FALLBACKS,
        "JSON array of retired encryption keys, used to decrypt only",
    ),
    secret(KDF_SALT, "standard base64 of exactly 32 random bytes"),
    secret(CSRF_SECRET_KEY, "CSRF signing key; at least 32 characters"),
    secret(
        ADMIN_API_KEY,
        "X-Admin-Key for operator calls; at least 32 characters in staging/production",
    ),
    plain(
        CORS_ORIGINS,
        "JSON array of web origins; staging/production: https://host[:port], no path, no *, no localhost",
    ),
    plain(
        LLM_PROVIDER,
        "openai | claude | anthropic | google | groq; required in production",
    ),
    secret(OPENAI_API_KEY, "key for LLM_PROVIDER=openai"),
    secret(CLAUDE_API_KEY, "key for LLM_PROVIDER=claude (or anthropic)"),
    secret(ANTHROPIC_API_KEY, "key for LLM_PROVIDER=anthropic"),
    secret(GOOGLE_API_KEY, "key for LLM_PROVIDER=google"),
    secret(GROQ_API_KEY, "key for LLM_PROVIDER=groq"),
    secret(
        PAYSTACK_SECRET_KEY,
        "billing secret key; production: sk_live_...",
    ),
    plain(
        PAYSTACK_PUBLIC_KEY,
        "billing public key; production: pk_live_...",
    ),
    plain(
        SAAS_STRICT_INTEGRATIONS,
        "true forbids operator-level integration variables; must be true in production",
    ),
    secret(
        SLACK_BOT_TOKEN,
        "shared Slack bot token; tenants choose the channel in the product",
    ),
    plain(
        FORECASTER_ALLOW_HOLT_WINTERS_FALLBACK,
        "break-glass: run without the bundled forecaster (staging/production need the waiver below)",
    ),
    plain(
        FORECASTER_BREAK_GLASS_REASON,
        "incident or ticket reference for the waiver; at least 10 characters",
    ),
    plain(
        FORECASTER_BREAK_GLASS_EXPIRES_AT,
        "RFC 3339 timestamp with Z or an offset; in the future, within the max duration",
    ),
    plain(
        FORECASTER_BREAK_GLASS_MAX_DURATION_HOURS,
        "longest waiver allowed, in hours (default 168)",
    ),
    plain(
        VALDRIX_RUNTIME_SECRET_ARN,
        "Secrets Manager secret (JSON object of these names) that fills what env leaves unset",
    ),
    plain(
        VALDRIX_RUNTIME_SECRET_VERSION,
        "the secret's VersionId to read (empty = AWSCURRENT); the template pins the one deployed",
    ),
    plain(
        VALDRIX_ALLOW_PRIVATE_OUTBOUND,
        "development only: let outbound calls reach loopback/private addresses (local fake receivers)",
    ),
    plain(
        VALDRIX_SLACK_API_URL,
        "development only: Slack Web API base URL (a local fake); unset: https://slack.com/api/",
    ),
    plain(
        VALDRIX_GITHUB_API_URL,
        "development only: GitHub REST API base URL (a local fake); unset: https://api.github.com/",
    ),
    plain(
        VALDRIX_PACK_BUCKET,
        "S3 bucket compliance packs are written to (compliance-export and compliance-pack-worker need it; the template sets it)",
    ),
    plain(
        VALDRIX_DEAD_LETTER_QUEUE_URL,
        "SQS queue URL of dead policy deliveries (notification-dispatcher needs it; the template sets it)",
    ),
    plain(
        VALDRIX_INGEST_QUEUE_URL,
        "SQS queue URL of cost files continuing in the next invocation (cost-ingest needs it; the template sets it)",
    ),
    plain(
        VALDRIX_DAILY_RUN_QUEUE_URL,
        "SQS queue URL of the daily evidence run's per-tenant work (evidence-daily needs it; the template sets it)",
    ),
    plain(
        VALDRIX_AUDIT_SIGNING_KEY,
        "KMS key ARN the audit checkpoints are signed with (compliance-pack-worker, evidence-daily and notification-dispatcher need it; the template sets it)",
    ),
    plain(
        VALDRIX_PACK_WORKER,
        "Lambda function (alias) ARN export jobs are handed to (compliance-export needs it; the template sets it)",
    ),
];

/// The variable's kind, treating the strict-mode families as secrets since they
/// may hold tokens.
pub fn kind_of(name: &str) -> Kind {
    KNOWN
        .iter()
        .find(|var| var.name == name)
        .map(|var| var.kind)
        .unwrap_or(if is_strict_forbidden(name) {
            Kind::Secret
        } else {
            Kind::Plain
        })
}
