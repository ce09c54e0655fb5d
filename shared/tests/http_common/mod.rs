//! Shared fixtures of the `http_*` and `auth_*` tests: a validated config, a
//! one-shot request helper, and a read-only fixture store.
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use valdrix_shared::config::{RuntimeConfig, VarSet, validate};
use valdrix_shared::state::{AppState, SharedState};
use valdrix_shared::store::{Condition, Item, Page, Query, Store, StoreError, WriteOp};

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

pub fn state(config: RuntimeConfig, store: FixtureStore) -> SharedState {
    Arc::new(AppState {
        config: Arc::new(config),
        store: Arc::new(store),
    })
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

/// Serves `get` from fixed items; `down` makes every call fail as an outage.
/// Writes are not needed by these tests and are refused.
#[derive(Default)]
pub struct FixtureStore {
    items: HashMap<(String, String), Item>,
    down: bool,
}

impl FixtureStore {
    /// A store whose every call fails as an outage.
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
        let key = (
            item["pk"].as_str().unwrap().to_owned(),
            item["sk"].as_str().unwrap().to_owned(),
        );
        self.items.insert(key, item);
        self
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down {
            Err(StoreError::Unavailable(
                "dial tcp 10.0.0.7:443: secret-internal-detail".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FixtureStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.check()?;
        Ok(self.items.get(&(pk.into(), sk.into())).cloned())
    }
    async fn put(&self, _: Item, _: Condition) -> Result<(), StoreError> {
        Err(StoreError::Invalid("fixture store is read-only".into()))
    }
    async fn delete(&self, _: &str, _: &str, _: Condition) -> Result<(), StoreError> {
        Err(StoreError::Invalid("fixture store is read-only".into()))
    }
    async fn query(&self, _: Query) -> Result<Page, StoreError> {
        Err(StoreError::Invalid("fixture store is read-only".into()))
    }
    async fn transact(&self, _: Vec<WriteOp>) -> Result<(), StoreError> {
        Err(StoreError::Invalid("fixture store is read-only".into()))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
    async fn ensure_table(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
}
