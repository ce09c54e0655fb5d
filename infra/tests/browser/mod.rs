//! A real browser for the tests: Debian's headless Chromium driven through
//! chromedriver over the W3C WebDriver protocol (five endpoints, spoken with
//! reqwest), so a test reads what a person would see — the rendered text —
//! and keeps a screenshot. `infra/emulators.sh start` installs both and
//! exports where they are.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The element key of a WebDriver element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn tool(var: &str) -> String {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "{var} is unset: headless Chromium is not installed. Run the suite with `infra/test-all`, \
             or `eval \"$(infra/emulators.sh start)\"` (it installs Debian's chromium and \
             chromium-driver with apt-get) and run `cargo test` in that shell."
        ),
    }
}

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Chromium, headless, in a fresh profile, with nothing of its own
    /// reaching out (no sync, updates or background networking).
    pub async fn start() -> Self {
        let chromium = tool("VALDRIX_TEST_CHROMIUM");
        let chromedriver = tool("VALDRIX_TEST_CHROMEDRIVER");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {chromedriver}: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(r) = ready
                && let Ok(body) = r.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {base}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("a fresh profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2400",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut me = Self {
            driver,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        let session = me
            .call(
                reqwest::Method::POST,
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": args},
                }}})),
            )
            .await;
        me.session = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
            .to_owned();
        me
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
            .json()
            .await
            .expect("WebDriver answers JSON");
        answer["value"].clone()
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub async fn open(&self, file: &Path) {
        let url = format!("file://{}", file.display());
        self.call(
            reqwest::Method::POST,
            &self.at("/url"),
            Some(json!({"url": url})),
        )
        .await;
    }

    /// The page's rendered text (WebDriver's element text of `body`: what
    /// is visible, laid out, table cells separated by tabs).
    pub async fn text(&self) -> String {
        let body = self
            .call(
                reqwest::Method::POST,
                &self.at("/element"),
                Some(json!({"using": "css selector", "value": "body"})),
            )
            .await;
        let id = body[ELEMENT].as_str().expect("the body element");
        self.call(
            reqwest::Method::GET,
            &self.at(&format!("/element/{id}/text")),
            None,
        )
        .await
        .as_str()
        .expect("text")
        .to_owned()
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self
            .call(reqwest::Method::GET, &self.at("/screenshot"), None)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64"))
            .expect("a PNG")
    }
}

impl Browser {
    /// End the session (Chromium quits) and the driver.
    pub async fn close(mut self) {
        let _ = self
            .http
            .delete(format!("{}{}", self.base, self.at("")))
            .send()
            .await;
        self.session.clear();
    }
}

/// Whatever happened, the driver does not outlive the test.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
