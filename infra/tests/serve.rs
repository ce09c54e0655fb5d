//! `valdrix serve` on a fresh data dir: it starts with no set-up, and serves
//! /health, the admin routes and /api/v1/me for each printed token.

use valdrix_tests::serve::ServeProcess;

/// `valdrix serve` on `data_dir`, as a fresh clone runs it.
fn start(data_dir: &std::path::Path) -> ServeProcess {
    ServeProcess::start(env!("CARGO_BIN_EXE_valdrix"), data_dir, &[], &[])
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
        .header("X-Admin-Key", server.admin_key.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tenant.status(), 200);
    let created = http
        .post(format!("{}/api/v1/admin/tenants", server.base))
        .header("X-Admin-Key", server.admin_key.as_deref().unwrap())
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
        .header("X-Admin-Key", again.admin_key.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Secrets the operator supplied are theirs: serve names where the admin key
/// is and never prints any of them; a key it generated may be shown.
#[test]
fn operator_supplied_secrets_are_never_printed() {
    const PLANTED: [(&str, &str); 5] = [
        ("ADMIN_API_KEY", "operator-admin-key-5f4e3d2c1b0a9988"),
        (
            "SUPABASE_JWT_SECRET",
            "operator-jwt-secret-0a1b2c3d4e5f6a7b8c",
        ),
        ("ENCRYPTION_KEY", "operator-encryption-key-9f8e7d6c5b4a39"),
        ("CSRF_SECRET_KEY", "operator-csrf-key-1234abcd5678efgh9012"),
        ("KDF_SALT", "b3BlcmF0b3Itc2FsdC0zMi1ieXRlcy1vZi1zYWx0ISE="),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join(".valdrix");
    let server = ServeProcess::start(
        env!("CARGO_BIN_EXE_valdrix"),
        &data_dir,
        &["--sandbox"],
        &PLANTED,
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    let everything = format!("{}{log}", server.banner);
    for (name, value) in PLANTED {
        assert!(
            !everything.contains(value),
            "{name} was printed:\n{everything}"
        );
    }
    assert_eq!(server.admin_key, None);
    assert_eq!(
        server.exports["ADMIN_KEY"], "\"$ADMIN_API_KEY\"",
        "{}",
        server.banner
    );
    assert!(
        server
            .banner
            .contains("curl -H \"X-Admin-Key: $ADMIN_API_KEY\""),
        "the banner says where the key is:\n{}",
        server.banner
    );
    // Nothing was generated: every secret came from the operator.
    assert!(!data_dir.join("dev.env").exists());
}

/// What the HTTP server answers before any route, as problem+json: a head
/// over API Gateway's 10,240 bytes is a 431.
#[tokio::test]
async fn oversized_headers_are_a_431_problem() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join(".valdrix"));
    let http = reqwest::Client::new();
    for path in ["/health", "/no/such/route"] {
        let res = http
            .get(format!("{}{path}", server.base))
            .header("x-padding", "p".repeat(11_000))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 431, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 431, "{body}");
    }
    // Just under the limit is served.
    let res = http
        .get(format!("{}/health/live", server.base))
        .header("x-padding", "p".repeat(9_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
