//! Logging set-up shared by every binary: JSON lines on stderr that Lambda's
//! log controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`) understand.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Install the JSON subscriber once. The level comes from `AWS_LAMBDA_LOG_LEVEL`,
/// then `RUST_LOG`, then `info`.
pub fn init() {
    let level = crate::config::process::lambda_log_level();
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    install(filter, std::io::stderr);
}

/// The production log format with any filter and writer (the leak tests
/// capture it in memory). False when a subscriber was already installed.
pub fn install<W>(filter: EnvFilter, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_current_span(false)
        .flatten_event(true)
        .with_target(false)
        .try_init()
        .is_ok()
}
