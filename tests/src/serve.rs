//! `valdrix serve` as a child process on a free loopback port, and what its
//! banner says: the base URL, a token per demo user, the admin key and the
//! `export` line of the checklist's variables.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The banner's last line (infra/src/serve.rs, `BANNER_END`).
const BANNER_END: &str = "# stop with Ctrl-C";

pub struct ServeProcess {
    child: Child,
    pub base: String,
    /// `role` → that demo user's token.
    pub tokens: BTreeMap<String, String>,
    /// The admin key, when serve generated it (and so may show it).
    pub admin_key: Option<String>,
    /// The `export` line's variables (VALDRIX_API, TENANT_ID, TOKEN, ADMIN_KEY).
    pub exports: BTreeMap<String, String>,
    /// `--sandbox`: each fake receiver's name and URL.
    pub receivers: Vec<(String, String)>,
    /// `--sandbox`: the URLs of the test-call curl lines.
    pub test_urls: Vec<String>,
    /// Everything the banner printed, as printed.
    pub banner: String,
    /// serve's stderr (its JSON log lines).
    pub log: PathBuf,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// `bin serve --port 0 --data-dir <data_dir> <args…>` with a clean
    /// environment plus `env`; returns once the banner is printed.
    pub fn start(bin: &str, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(data_dir).expect("create the data dir");
        let log = data_dir.join("serve.log");
        let mut command = Command::new(bin);
        command
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("create the serve log"));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start valdrix serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut banner = String::new();
        let (mut base, mut tokens, mut admin_key, mut exports) =
            (None, BTreeMap::new(), None, BTreeMap::new());
        let (mut receivers, mut test_urls) = (Vec::new(), Vec::new());
        let mut role = String::new();
        let mut in_sandbox = false;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("read the banner");
            banner.push_str(&line);
            banner.push('\n');
            let text = line.trim();
            if let Some(rest) = text.strip_prefix("valdrix serve: listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            } else if let Some(rest) = text.strip_prefix("export ") {
                for pair in rest.split_whitespace() {
                    if let Some((k, v)) = pair.split_once('=') {
                        exports.insert(k.to_owned(), v.to_owned());
                    }
                }
            } else if let Some(rest) = text.strip_prefix("curl -H 'Authorization: Bearer ") {
                let token = rest.split('\'').next().unwrap_or_default();
                tokens.insert(role.clone(), token.to_owned());
            } else if let Some(rest) = text.strip_prefix("curl -H 'X-Admin-Key: ") {
                admin_key = rest.split('\'').next().map(str::to_owned);
            } else if let Some(rest) =
                text.strip_prefix("curl -X POST -H \"Authorization: Bearer $TOKEN\" ")
            {
                test_urls.push(rest.to_owned());
            } else if text.starts_with("# sandbox:") {
                in_sandbox = true;
            } else if let (true, Some(rest)) = (in_sandbox, text.strip_prefix("#   ")) {
                let mut parts = rest.split_whitespace();
                if let (Some(name), Some(url)) = (parts.next(), parts.next()) {
                    receivers.push((name.to_owned(), url.to_owned()));
                }
            } else if text == BANNER_END {
                break;
            } else if let Some(rest) = text.strip_prefix("# ") {
                role = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        // Keep draining stdout so serve never blocks on (or dies of) a closed pipe.
        std::thread::spawn(move || for _ in lines {});
        let base = base.unwrap_or_else(|| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("valdrix serve printed no URL; its banner:\n{banner}\nits log:\n{log}")
        });
        Self {
            child,
            base,
            tokens,
            admin_key,
            exports,
            receivers,
            test_urls,
            banner,
            log,
        }
    }

    /// The demo user's token of `role` (owner, admin, member).
    pub fn token(&self, role: &str) -> &str {
        self.tokens
            .get(role)
            .unwrap_or_else(|| panic!("the banner shows no {role} token:\n{}", self.banner))
    }

    /// serve's log lines at ERROR, or that panicked.
    pub fn error_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\"") || l.contains("panicked"))
            .map(str::to_owned)
            .collect()
    }
}
