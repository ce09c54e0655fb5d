//! Jira Cloud dispatch against a fake REST v3 API.

mod outbound_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use serde_json::{Value, json};
use valdrix_shared::outbound::vendor::{JiraTarget, jira_create_issue, jira_myself};
use valdrix_shared::outbound::{Outbound, Policy, Timeouts};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use outbound_support::*;

fn target(base_url: String) -> JiraTarget {
    JiraTarget {
        base_url,
        email: "ops@tenant.example".into(),
        api_token: SecretString::from(JIRA_TOKEN),
        project_key: "OPS".into(),
        issue_type: String::new(),
    }
}

#[tokio::test]
async fn creates_an_issue_with_basic_auth_and_an_adf_description() {
    let server = MockServer::start().await;
    let basic = STANDARD.encode(format!("ops@tenant.example:{JIRA_TOKEN}"));
    Mock::given(method("POST"))
        .and(path("/jira/rest/api/3/issue"))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .and(header("accept", "application/json"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"id": "10001", "key": "OPS-17", "self": "https://x/rest/api/3/issue/10001"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let d = jira_create_issue(
        &local_client(),
        &target(format!("{}/jira/", server.uri())),
        &notification(),
    )
    .await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.status_code, Some(201));
    assert_eq!(d.external_id.as_deref(), Some("OPS-17"));

    let body: Value = serde_json::from_slice(&received(&server).await[0].body).unwrap();
    let fields = &body["fields"];
    assert_eq!(fields["project"], json!({"key": "OPS"}));
    assert_eq!(fields["issuetype"], json!({"name": "Task"}));
    assert_eq!(fields["summary"], "Policy Block: delete_volume");
    let labels = fields["labels"].as_array().unwrap();
    assert_eq!(
        labels[..4],
        [
            json!("valdrix"),
            json!("policy-block"),
            json!("block"),
            json!("critical")
        ]
    );
    // The delivery's own label, what a retry searches for: stable, a hash.
    let own = labels[4].as_str().unwrap();
    assert_eq!(own, delivery_label(&notification()));
    assert!(!own.contains("msg_2f1c9a7e4b"), "{own}");
    assert_eq!(labels.len(), 5);
    let doc = &fields["description"];
    assert_eq!(doc["type"], "doc");
    assert_eq!(doc["version"], 1);
    let first = &doc["content"][0];
    assert_eq!(first["type"], "paragraph");
    assert_eq!(
        first["content"][0],
        json!({"type": "text", "text": "Destructive action on a production resource"})
    );
    for para in doc["content"].as_array().unwrap() {
        let text = para["content"][0]["text"].as_str().unwrap();
        assert!(!text.is_empty());
    }
}

#[tokio::test]
async fn a_400_reports_error_messages_and_field_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errorMessages": ["Issue type is not valid for this project."],
            "errors": {"project": "project is required", "issuetype": "valid issue type is required"}
        })))
        .mount(&server)
        .await;
    let d = jira_create_issue(&local_client(), &target(server.uri()), &notification()).await;
    assert_permanent(&d);
    assert_eq!(d.status_code, Some(400));
    assert_eq!(
        d.detail,
        "Jira answered 400: Issue type is not valid for this project.; issuetype: valid issue type is required; project: project is required"
    );
}

#[tokio::test]
async fn myself_is_the_passive_check() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"accountId": "5b10a2844c20165700ede21g"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let d = jira_myself(&local_client(), &target(server.uri())).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.external_id.as_deref(), Some("5b10a2844c20165700ede21g"));

    let server = MockServer::start().await;
    Mock::given(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let d = jira_myself(&local_client(), &target(server.uri())).await;
    assert_permanent(&d);
    assert_eq!(d.detail, "Jira answered 401");
}

#[tokio::test]
async fn the_tenant_base_url_is_ssrf_checked_at_call_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let prod = Outbound::new(Policy::default(), Timeouts::default());
    for base in [
        server.uri(),
        "https://169.254.169.254".into(),
        "https://jira.internal".into(),
    ] {
        let d = jira_create_issue(&prod, &target(base.clone()), &notification()).await;
        assert_permanent(&d);
        assert!(d.detail.starts_with("refused:"), "{base}: {}", d.detail);
    }
    let d = jira_create_issue(
        &local_client(),
        &target(format!("{}/?x=1", server.uri())),
        &notification(),
    )
    .await;
    assert!(d.detail.starts_with("bad config:"), "{}", d.detail);
    assert!(received(&server).await.is_empty());
}

/// The label `jira_create_issue` puts on the issue, read back from a create.
fn delivery_label(n: &valdrix_shared::outbound::vendor::Notification) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(n.idempotency_key.as_bytes());
    format!("valdrix-delivery-{}", hex::encode(&digest[..8]))
}

fn retry() -> valdrix_shared::outbound::vendor::Notification {
    let mut n = notification();
    n.retry = true;
    n
}

async fn search_answers(server: &MockServer, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn create_answers(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "10002", "key": "OPS-18"})),
        )
        .mount(server)
        .await;
}

fn paths(requests: &[wiremock::Request]) -> Vec<String> {
    requests.iter().map(|r| r.url.path().to_owned()).collect()
}

#[tokio::test]
async fn a_retry_finds_the_issue_an_earlier_attempt_created_and_creates_none() {
    let server = MockServer::start().await;
    search_answers(
        &server,
        200,
        json!({"issues": [{"id": "10001", "key": "OPS-17"}], "isLast": true}),
    )
    .await;
    create_answers(&server).await;
    let d = jira_create_issue(&local_client(), &target(server.uri()), &retry()).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.external_id.as_deref(), Some("OPS-17"));
    assert_eq!(
        d.detail,
        "Jira already had the issue from an earlier attempt"
    );

    let requests = received(&server).await;
    assert_eq!(paths(&requests), ["/rest/api/3/search/jql"]);
    let query: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        query["jql"],
        format!(
            "project = \"OPS\" AND labels = \"{}\"",
            delivery_label(&retry())
        )
    );
    assert_eq!(query["maxResults"], 1);
    let basic = STANDARD.encode(format!("ops@tenant.example:{JIRA_TOKEN}"));
    assert_eq!(
        outbound_support::header(&requests[0], "authorization"),
        format!("Basic {basic}")
    );
}

#[tokio::test]
async fn a_retry_creates_the_issue_when_the_search_finds_none_or_fails() {
    for (status, body) in [
        (200, json!({"issues": [], "isLast": true})),
        (
            400,
            json!({"errorMessages": ["The value 'OPS' does not exist for the field 'project'."]}),
        ),
        (503, json!({})),
    ] {
        let server = MockServer::start().await;
        search_answers(&server, status, body).await;
        create_answers(&server).await;
        let d = jira_create_issue(&local_client(), &target(server.uri()), &retry()).await;
        assert!(d.ok, "{status}: {d:?}");
        assert_eq!(d.external_id.as_deref(), Some("OPS-18"));
        assert_eq!(
            paths(&received(&server).await),
            ["/rest/api/3/search/jql", "/rest/api/3/issue"],
            "{status}"
        );
    }
    // A first attempt does not search.
    let server = MockServer::start().await;
    create_answers(&server).await;
    let d = jira_create_issue(&local_client(), &target(server.uri()), &notification()).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(paths(&received(&server).await), ["/rest/api/3/issue"]);
}
