//! Helpers for the workspace integration tests.

/// The URL of an emulator the test command started, or a failure that says how
/// to start it. Emulator-backed tests never skip silently.
pub fn emulator_endpoint(var: &str, what: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{what} is not running: {var} is unset. Run the whole suite with `infra/test-all` \
             (it installs and starts every emulator), or start them alone with \
             `eval \"$(infra/emulators.sh start)\"` and run `cargo test` in that shell."
        ),
    }
}
