//! The process variables outside the runtime contract that Lambda (or the
//! template, for the metrics) sets: read here, so that no other module reads
//! the environment. None of them is a secret.

/// A variable's value, `None` when unset or empty.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's log controls), lowercased.
pub fn lambda_log_level() -> Option<String> {
    get("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase())
}

/// `RUST_LOG`: log directives (`level` or `target=level,...`) outside Lambda.
pub fn rust_log() -> Option<String> {
    get("RUST_LOG")
}

/// `AWS_LAMBDA_RUNTIME_API`: where the Runtime API listens, under Lambda.
pub fn runtime_api() -> Option<String> {
    get("AWS_LAMBDA_RUNTIME_API")
}

/// `VALDRIX_METRICS_NAMESPACE`: the CloudWatch namespace the template gives
/// the metrics (one per stack).
pub fn metrics_namespace() -> Option<String> {
    get("VALDRIX_METRICS_NAMESPACE")
}

/// `VALDRIX_INVOCATION_BUDGET_SECONDS`: shortens every invocation's deadline
/// (`deadline::Deadline::invocation`), so that tests and benchmarks see long
/// work stop and resume without waiting 15 minutes. Unset in production.
pub fn invocation_budget() -> Option<std::time::Duration> {
    get("VALDRIX_INVOCATION_BUDGET_SECONDS")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(std::time::Duration::from_secs)
}
