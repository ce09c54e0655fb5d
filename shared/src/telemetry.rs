//! Logging set-up shared by every binary: JSON lines on stderr that Lambda's
//! log controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`) understand.
//!
//! The filter is `Targets` (`level` or `target=level,...`), not `EnvFilter`:
//! the same directives without span-field matching, and without the regex
//! engine `EnvFilter` links into every function (about 0.35 MB of code).
//! Release builds have no debug or trace events at all (the workspace's
//! `release_max_level_info`, docs/adr/0010): there the levels stop at info.

use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Install the JSON subscriber once. The level comes from `AWS_LAMBDA_LOG_LEVEL`,
/// then `RUST_LOG`, then `info`.
pub fn init() {
    let directives =
        crate::config::process::lambda_log_level().or_else(crate::config::process::rust_log);
    install(filter(directives.as_deref()), std::io::stderr);
}

/// The filter for `directives`; `info` when absent or unreadable. Lambda's
/// `FATAL` has no tracing level: it is `error`.
pub fn filter(directives: Option<&str>) -> Targets {
    let info = || Targets::new().with_default(tracing::Level::INFO);
    match directives.map(str::trim) {
        Some(d) if d.eq_ignore_ascii_case("fatal") => {
            Targets::new().with_default(tracing::Level::ERROR)
        }
        Some(d) => Targets::from_str(d).unwrap_or_else(|_| info()),
        None => info(),
    }
}

/// The production log format with any filter and writer (the leak tests
/// capture it in memory). False when a subscriber was already installed.
pub fn install<W>(filter: Targets, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_current_span(false)
        .flatten_event(true)
        .with_target(false);
    tracing_subscriber::registry()
        .with(format.with_filter(filter))
        .try_init()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::filter;

    #[test]
    fn the_level_reads_lambdas_names_and_rust_log_directives() {
        let at =
            |d: Option<&str>, target: &str, level: Level| filter(d).would_enable(target, &level);
        assert!(at(None, "valdrix_shared", Level::INFO));
        assert!(!at(None, "valdrix_shared", Level::DEBUG));
        assert!(at(Some("debug"), "hyper", Level::DEBUG));
        assert!(!at(Some("fatal"), "valdrix_shared", Level::WARN));
        assert!(at(Some("fatal"), "valdrix_shared", Level::ERROR));
        let mixed = Some("warn,valdrix_shared=trace");
        assert!(at(mixed, "valdrix_shared::store", Level::TRACE));
        assert!(!at(mixed, "hyper", Level::INFO));
        assert!(
            at(Some("not a level=="), "x", Level::INFO),
            "unreadable: info"
        );
    }
}
