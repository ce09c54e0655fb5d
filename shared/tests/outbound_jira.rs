//! Jira Cloud dispatch against a fake REST v3 API.

mod outbound_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use serde_json::{Value, json};
use valdrix_shared::outbound::dispatch::{JiraTarget, jira_create_issue, jira_myself};
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
    assert_eq!(
        fields["labels"],
        json!(["valdrix", "policy-block", "block", "critical"])
    );
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
    let prod = Outbound::new(Policy::default(), Timeouts::default()).unwrap();
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
