//! What the process benchmarks share: a release `valdrix serve` on a fresh
//! data dir (its banner gives the URL, tokens and admin key), percentiles,
//! peak RSS of a child, and the conditions a figure was taken under.
//! Each bench uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The release `valdrix` this bench was built with.
pub const VALDRIX: &str = env!("CARGO_BIN_EXE_valdrix");

/// `target/<profile>`, where the release function binaries are.
pub fn release_dir() -> PathBuf {
    Path::new(VALDRIX)
        .parent()
        .expect("the valdrix binary has a directory")
        .to_path_buf()
}

/// A fresh directory under the system temp dir, removed on drop (a 1M-row
/// ledger is ~5 GB of SQLite; a failed run must not leave it behind).
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}-"))
        .tempdir()
        .expect("create a temp dir")
}

/// A fresh embedded store in `dir`.
pub async fn sqlite_store(dir: &Path) -> valdrix_shared::store::DynStore {
    let url = valdrix_shared::config::StoreUrl::Sqlite {
        path: dir.join("store.sqlite").display().to_string(),
    };
    let store = valdrix_shared::store::open(&url)
        .await
        .expect("open the sqlite store");
    store.ensure_table().await.expect("sqlite schema");
    store
}

/// A running `valdrix serve`; killed on drop.
pub struct Serve {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub owner_token: String,
    pub admin_key: String,
}

impl Serve {
    /// Start on a free loopback port with `data_dir` (created fresh when
    /// missing) and wait for its banner. `env` is added to a clean env.
    pub fn start(data_dir: &Path, sandbox: bool, env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(VALDRIX);
        cmd.args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if sandbox {
            cmd.arg("--sandbox");
        }
        let mut child = cmd.spawn().expect("start valdrix serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (mut base, mut owner_token, mut admin_key) = (None, None, None);
        let mut role = String::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("read the serve banner");
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("valdrix serve: listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            } else if let Some(r) = line.strip_prefix("# ") {
                role = r.split_whitespace().next().unwrap_or_default().to_owned();
            } else if let Some(rest) = line.strip_prefix("curl -H 'Authorization: Bearer ") {
                if role == "owner" {
                    owner_token = rest.split('\'').next().map(str::to_owned);
                }
            } else if let Some(rest) = line.strip_prefix("curl -H 'X-Admin-Key: ") {
                admin_key = rest.split('\'').next().map(str::to_owned);
                break;
            }
        }
        // Keep draining stdout (sandbox curl lines) so serve never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Serve {
            child,
            base: base.expect("the banner names the URL"),
            data_dir: data_dir.to_path_buf(),
            owner_token: owner_token.expect("the banner has an owner token"),
            admin_key: admin_key.expect("the banner has the admin key"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `KEY=VALUE` lines of the data dir's generated `dev.env`.
    pub fn dev_env(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.data_dir.join("dev.env")).expect("read dev.env");
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    pub fn database_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.data_dir.join("valdrix.sqlite").display()
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nearest-rank percentile (`p` in 0..=100) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sorted copy.
pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// `name` from the environment, parsed, or `default` when unset or unparsable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set (VmHWM) of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The 1/5/15-minute load averages, recorded with every figure.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}
