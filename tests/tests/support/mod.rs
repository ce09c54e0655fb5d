//! What the end-to-end suites share: the one router `valdrix serve` serves
//! (every function's routes), and raw requests through it.

#![allow(dead_code)] // each suite uses its own part

pub mod scan;

use std::sync::Arc;

use axum::body::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;
use tower::ServiceExt;
use valdrix_shared::state::SharedState;
use valdrix_tests::FakeWorld;

/// Every function's router on one app, exactly as `valdrix serve` builds it.
#[path = "../../../infra/src/routes.rs"]
mod routes;

pub fn app(state: SharedState) -> axum::Router {
    routes::app(state)
}

/// Give a freshly built world a local object store for compliance packs,
/// and the key that signs them.
pub fn with_pack_store(world: &mut FakeWorld, dir: &std::path::Path) {
    let objects = compliance_export::local_object_store(dir, &world.state.config);
    let state = Arc::get_mut(&mut world.state).expect("the world's state is not shared yet");
    state.objects = Some(objects);
    state.audit_signer = Some(valdrix_tests::local_signer());
}

/// One answer, whole: status, headers and raw body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request to send: method, path (with query), headers, optional JSON body.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn admin(self, key: &str) -> Self {
        self.header("x-admin-key", key)
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw("application/json", body.to_string().into_bytes())
    }

    pub fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        self.body = Some(body);
        self
    }
}

/// Send `req` through `app` as API Gateway would hand it over.
pub async fn send(app: &axum::Router, req: &Req) -> Answer {
    let mut builder = http::Request::builder()
        .method(req.method.clone())
        .uri(&req.path)
        .header("host", "api.example.com");
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(axum::body::Body::from(req.body.clone().unwrap_or_default()))
        .expect("a valid request");
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body,
    }
}

/// A block decision for `tenant`, as the policy engine posts it.
pub fn block_event(event_id: &str, tenant: &str) -> Value {
    serde_json::json!({
        "event_id": event_id, "tenant_id": tenant, "decision": "block",
        "action": "ec2.terminate", "resource_id": "i-0abc",
        "summary": "Instance type not allowed", "severity": "high",
    })
}
