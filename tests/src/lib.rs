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

/// A command that starts a private DynamoDB Local on `port` (in memory), for
/// tests that must stop and restart it, e.g. the health check's 503. It uses
/// the Java and jar `infra/emulators.sh start` exported; the caller spawns it,
/// waits for the port to answer and kills it by its own child handle.
pub fn dynamodb_local_command(port: u16) -> std::process::Command {
    let java = emulator_endpoint("VALDRIX_TEST_JAVA", "DynamoDB Local (java)");
    let jar = emulator_endpoint("VALDRIX_TEST_DYNAMODB_JAR", "DynamoDB Local (jar)");
    let lib = emulator_endpoint("VALDRIX_TEST_DYNAMODB_LIB", "DynamoDB Local (native libs)");
    let mut cmd = std::process::Command::new(java);
    cmd.arg(format!("-Djava.library.path={lib}"))
        .arg("-jar")
        .arg(&jar)
        .args(["-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
        .arg(port.to_string());
    if let Some(dir) = std::path::Path::new(&jar).parent() {
        cmd.current_dir(dir);
    }
    cmd
}
