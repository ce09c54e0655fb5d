//! What the logs of a request carry: its id, route, status and latency — and
//! never a credential. Alone in its own test binary: tracing caches callsite
//! interest process-wide, so tests running in parallel without a subscriber
//! would make events here flakily disappear.

mod http_common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_common::{ADMIN_KEY, FixtureStore, JWT_SECRET, config, send, state};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;
use valdrix_shared::auth::{AdminKey, AdminOrOwner, CurrentUser};
use valdrix_shared::http::layers;

fn token(sub: &str) -> String {
    let claims =
        json!({"sub": sub, "aud": "authenticated", "exp": chrono::Utc::now().timestamp() + 600});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

async fn app() -> Router {
    let store = FixtureStore::default()
        .with(json!({"pk": "TENANT#t1", "sk": "META", "id": "t1", "name": "T", "tier": "free", "created_at": "2026-01-01T00:00:00Z"}))
        .with(json!({"pk": "USER#mia", "sk": "MEMBERSHIP", "tenant_id": "t1", "role": "member", "email": "mia@example.com"}));
    let state = state(config(), store).await;
    let router = Router::new()
        .route("/me", get(|_: CurrentUser| async { "me" }))
        .route("/admin-area", get(|_: AdminOrOwner| async { "admin" }))
        .route("/ops", get(|_: AdminKey| async { "ops" }));
    layers(router, &state.config).with_state(state)
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_the_request_id_and_never_credentials() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = app().await;
    let jwt = token("mia");
    let requests = [
        ("/me", "authorization", format!("Bearer {jwt}")),
        ("/admin-area", "authorization", format!("Bearer {jwt}")),
        ("/me", "authorization", format!("Bearer {jwt}tampered")),
        ("/ops", "x-admin-key", ADMIN_KEY.to_owned()),
        ("/ops", "x-admin-key", format!("{ADMIN_KEY}-wrong")),
    ];
    for (i, (path, name, value)) in requests.iter().enumerate() {
        let req = Request::get(*path)
            .header(*name, value)
            .header("x-request-id", format!("log-test-{i:04}"))
            .body(Body::empty())
            .unwrap();
        send(&app, req).await;
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let completed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("request completed"))
        .collect();
    assert_eq!(completed.len(), requests.len(), "{logs}");
    for (i, line) in completed.iter().enumerate() {
        assert!(line.contains(&format!("log-test-{i:04}")), "{line}");
        assert!(line.contains("\"status\""), "{line}");
        assert!(line.contains("latency_ms"), "{line}");
    }
    assert!(logs.contains("\"route\":\"/admin-area\""), "{logs}");
    assert!(logs.contains("bearer token rejected"), "{logs}");
    for secret in [jwt.as_str(), ADMIN_KEY, JWT_SECRET] {
        assert!(!logs.contains(secret), "a credential reached the logs");
    }
    let signature = jwt.rsplit('.').next().unwrap();
    assert!(
        !logs.contains(signature),
        "a token signature reached the logs"
    );
}
