//! Shared fixtures of the `http_*` and `auth_*` tests: a validated config, a
//! one-shot request helper, and a read-only fixture store.
#![allow(dead_code)] // each test crate uses a different subset

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use valdrix_shared::config::{RuntimeConfig, VarSet, validate};
use valdrix_shared::state::{AppState, SharedState};
use valdrix_shared::store::{Condition, DynStore, DynamoStore, Item, SqliteStore, Store};

pub const JWT_SECRET: &str = "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY";
pub const ADMIN_KEY: &str = "adm-R8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vBn";
pub const ORIGIN: &str = "https://app.example.com";

fn base_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SUPABASE_JWT_SECRET", JWT_SECRET),
        ("ENCRYPTION_KEY", "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc"),
        ("CSRF_SECRET_KEY", "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt"),
        ("KDF_SALT", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("CORS_ORIGINS", r#"["https://app.example.com"]"#),
    ]
}

/// A valid local config; `changes` override or add variables ("" unsets).
pub fn config_with(changes: &[(&'static str, &'static str)]) -> RuntimeConfig {
    let mut vars = base_vars();
    vars.retain(|(k, _)| !changes.iter().any(|(c, _)| c == k));
    vars.extend(changes.iter().copied());
    validate(&VarSet::from_pairs(vars), chrono::Utc::now())
        .unwrap_or_else(|v| panic!("test config invalid: {v:?}"))
}

pub fn config() -> RuntimeConfig {
    config_with(&[])
}

pub async fn state(config: RuntimeConfig, store: FixtureStore) -> SharedState {
    AppState::new(Arc::new(config), store.build().await)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts the RFC 9457 shape and returns the body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text()
        );
        let body = self.json();
        assert_eq!(body["status"], status);
        let title = self.status.canonical_reason().unwrap();
        assert_eq!(body["title"], title);
        let slug = title.to_ascii_lowercase().replace(' ', "-");
        assert_eq!(
            body["type"],
            format!("https://docs.valdrix.io/problems/{slug}")
        );
        assert!(body["detail"].is_string(), "detail missing: {body}");
        body
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A real embedded store seeded with raw items (written exactly as given, so
/// tests can plant malformed data), or a DynamoDB store whose endpoint refuses
/// connections, for outages.
#[derive(Default)]
pub struct FixtureStore {
    items: Vec<Item>,
    down: bool,
}

impl FixtureStore {
    pub fn down() -> Self {
        Self {
            down: true,
            ..Self::default()
        }
    }

    pub fn with(mut self, value: Value) -> Self {
        let Value::Object(item) = value else {
            panic!("fixture item must be an object")
        };
        self.items.push(item);
        self
    }

    pub async fn build(self) -> DynStore {
        if self.down {
            // Nothing listens on port 1: every call fails as an outage would.
            return Arc::new(
                DynamoStore::connect("t-down", Some("http://127.0.0.1:1"), Some("us-east-1")).await,
            );
        }
        let store = SqliteStore::open_in_memory().expect("in-memory store");
        for item in self.items {
            store.put(item, Condition::None).await.expect("seed item");
        }
        Arc::new(store)
    }
}
