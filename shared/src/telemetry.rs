//! Logging set-up shared by every binary: JSON lines on stderr that Lambda's
//! log controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`) understand.

use tracing_subscriber::EnvFilter;

/// Install the JSON subscriber once. The level comes from `AWS_LAMBDA_LOG_LEVEL`,
/// then `RUST_LOG`, then `info`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .filter(|l| !l.is_empty())
        .map(|l| l.to_ascii_lowercase());
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
