//! `valdrix serve` on a fresh data dir: it starts with no set-up, and serves
//! /health, the admin routes and /api/v1/me for each printed token.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    base: String,
    tokens: Vec<(String, String)>,
    admin_key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_valdrix"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start valdrix serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    let mut tokens = Vec::new();
    let mut admin_key = None;
    let mut role = String::new();
    for line in lines.by_ref() {
        let line = line.expect("read banner");
        if let Some(rest) = line.strip_prefix("valdrix serve: listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(r) = line.trim().strip_prefix("# ") {
            role = r.split_whitespace().next().unwrap_or_default().to_owned();
        } else if let Some(rest) = line.trim().strip_prefix("curl -H 'Authorization: Bearer ") {
            tokens.push((role.clone(), rest.split('\'').next().unwrap().to_owned()));
        } else if let Some(rest) = line.trim().strip_prefix("curl -H 'X-Admin-Key: ") {
            admin_key = rest.split('\'').next().map(str::to_owned);
            break;
        }
    }
    Server {
        child,
        base: base.expect("banner names the URL"),
        tokens,
        admin_key: admin_key.expect("banner shows the admin curl line"),
    }
}

#[tokio::test]
async fn fresh_clone_serves_health_admin_and_me_for_each_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join(".valdrix"));
    let http = reqwest::Client::new();

    let health: serde_json::Value = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["checks"]["store"]["status"], "up");

    assert_eq!(server.tokens.len(), 3);
    for (role, token) in &server.tokens {
        let res = http
            .get(format!("{}/api/v1/me", server.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{role}");
        let me: serde_json::Value = res.json().await.unwrap();
        assert_eq!(me["tenant_id"], "demo");
        assert_eq!(me["role"], role.as_str());
        assert_eq!(me["tier"], "pro");
    }

    let tenant = http
        .get(format!("{}/api/v1/admin/tenants/demo", server.base))
        .header("X-Admin-Key", &server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(tenant.status(), 200);
    let created = http
        .post(format!("{}/api/v1/admin/tenants", server.base))
        .header("X-Admin-Key", &server.admin_key)
        .json(&serde_json::json!({"id": "acme", "name": "Acme", "tier": "starter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let unauthorised = http
        .get(format!("{}/api/v1/admin/tenants/demo", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);

    // Every route of docs/openapi.yaml (= template.yaml's, by infra/tests/template.rs)
    // is served here: none falls through to the "no such resource" 404 or a 405.
    for (method, route) in valdrix_tests::openapi_routes() {
        let url = format!(
            "{}{}",
            server.base,
            route.replace('{', "x-").replace('}', "")
        );
        let res = http
            .request(method.parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {route} is not served");
        assert!(
            !(status == 404 && body["detail"] == "no such resource"),
            "{method} {route} is not served"
        );
    }
    drop(server);

    // A restart keeps the data and the secrets: the old tokens still work.
    let again = start(&dir.path().join(".valdrix"));
    let res = http
        .get(format!("{}/api/v1/admin/tenants/acme", again.base))
        .header("X-Admin-Key", &again.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
