//! Shared fixtures for the `outbound_*` test binaries.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;
use valdrix_shared::outbound::vendor::{Endpoints, Notification};
use valdrix_shared::outbound::{CallResult, Outbound, Policy, Retryability, Timeouts};
use wiremock::MockServer;

/// The only way tests reach a local fake: the explicit non-production allowance.
pub const LOCAL: Policy = Policy {
    allow_http: true,
    allow_private: true,
};

/// Planted secrets: none may ever show up in a detail, an error or a log line.
pub const BOT_TOKEN: &str = "xoxb-planted-7f3a9c1e5b";
pub const JIRA_TOKEN: &str = "ATATT-planted-jira-4d8e2a";
pub const GITHUB_TOKEN: &str = "ghp_planted0github0token0x9";
pub const TRIGGER_TOKEN: &str = "glptt-planted-trigger-3c7b";
pub const BEARER: &str = "bearer-planted-hook-5e1f";
/// Valid base64 after `whsec_`, so signing works.
pub const SIGNING_SECRET: &str = "whsec_cGxhbnRlZC1zaWduaW5nLXNlY3JldC0zMmJ5dGVzIQ==";

pub fn all_secrets() -> Vec<&'static str> {
    vec![
        BOT_TOKEN,
        JIRA_TOKEN,
        GITHUB_TOKEN,
        TRIGGER_TOKEN,
        BEARER,
        SIGNING_SECRET,
    ]
}

pub fn local_client() -> Outbound {
    Outbound::new(LOCAL, Timeouts::default())
}

pub fn local_client_with_total(total: Duration) -> Outbound {
    let timeouts = Timeouts {
        connect: total,
        total,
    };
    Outbound::new(LOCAL, timeouts)
}

pub fn endpoints(server: &MockServer) -> Endpoints {
    let base = Url::parse(&server.uri()).unwrap();
    Endpoints {
        slack_api: base.join("/api/").unwrap(),
        github_api: base,
    }
}

pub fn notification() -> Notification {
    Notification {
        event_type: "policy.block".into(),
        tenant_id: "7d5c2a8e-0000-4000-8000-000000000001".into(),
        request_id: Some("req-42".into()),
        title: "Policy Block: delete_volume".into(),
        summary: "Destructive action on a production resource".into(),
        decision: Some("block".into()),
        action: "delete_volume".into(),
        resource_id: "vol-0abc".into(),
        severity: Some("critical".into()),
        evidence_links: BTreeMap::from([(
            "ops_dashboard".to_string(),
            "https://app.valdrix.io/ops".to_string(),
        )]),
        idempotency_key: "msg_2f1c9a7e4b".into(),
        retry: false,
    }
}

pub fn assert_retryable(d: &CallResult) {
    assert!(!d.ok, "{d:?}");
    assert!(
        matches!(d.retry, Retryability::Retryable { .. }),
        "expected retryable: {d:?}"
    );
}

pub fn assert_permanent(d: &CallResult) {
    assert!(!d.ok, "{d:?}");
    assert_eq!(d.retry, Retryability::Permanent, "{d:?}");
}

/// Requests the fake received (wiremock records them all).
pub async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording on")
}

pub fn header<'a>(req: &'a wiremock::Request, name: &str) -> &'a str {
    req.headers
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}
