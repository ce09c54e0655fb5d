//! GitHub Actions and GitLab CI dispatch against fakes.

mod outbound_support;

use std::collections::HashMap;

use secrecy::SecretString;
use serde_json::{Value, json};
use valdrix_shared::outbound::vendor::{
    GithubTarget, GitlabTarget, github_dispatch, gitlab_trigger,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use outbound_support::*;

fn github() -> GithubTarget {
    GithubTarget {
        owner: "acme-inc".into(),
        repo: "infra.ops".into(),
        workflow_id: "valdrix.yml".into(),
        git_ref: "main".into(),
        token: SecretString::from(GITHUB_TOKEN),
    }
}

const DISPATCH_PATH: &str = "/repos/acme-inc/infra.ops/actions/workflows/valdrix.yml/dispatches";

#[tokio::test]
async fn github_dispatch_sends_the_documented_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DISPATCH_PATH))
        .and(header(
            "authorization",
            format!("Bearer {GITHUB_TOKEN}").as_str(),
        ))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("user-agent", "valdrix"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let mut n = notification();
    n.request_id = None;
    let d = github_dispatch(&local_client(), &endpoints(&server), &github(), &n).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.status_code, Some(204));

    let body: Value = serde_json::from_slice(&received(&server).await[0].body).unwrap();
    assert_eq!(body["ref"], "main");
    let inputs = body["inputs"].as_object().unwrap();
    assert_eq!(inputs.len(), 4);
    assert!(
        inputs.values().all(Value::is_string),
        "inputs must be strings"
    );
    assert_eq!(inputs["event_type"], "policy.block");
    assert_eq!(inputs["tenant_id"], n.tenant_id);
    assert_eq!(inputs["request_id"], "", "never \"None\"");
    let payload: Value = serde_json::from_str(inputs["payload_json"].as_str().unwrap()).unwrap();
    assert_eq!(payload["decision"], "block");
    assert_eq!(payload["request_id"], Value::Null);
    assert_eq!(
        payload["evidence_links"]["ops_dashboard"],
        "https://app.valdrix.io/ops"
    );
}

#[tokio::test]
async fn github_payload_json_stays_valid_and_within_limits_when_huge() {
    let server = MockServer::start().await;
    Mock::given(path(DISPATCH_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let mut n = notification();
    n.summary = "\"quoted\" ".repeat(20_000);
    let d = github_dispatch(&local_client(), &endpoints(&server), &github(), &n).await;
    assert!(d.ok, "{d:?}");
    let body: Value = serde_json::from_slice(&received(&server).await[0].body).unwrap();
    let inputs = body["inputs"].as_object().unwrap();
    let total: usize = inputs
        .values()
        .map(|v| v.as_str().unwrap().chars().count())
        .sum();
    assert!(total <= 65_535, "{total}");
    let payload: Value =
        serde_json::from_str(inputs["payload_json"].as_str().unwrap()).expect("valid JSON");
    assert_eq!(payload["truncated"], true);
    assert_eq!(payload["tenant_id"], n.tenant_id);
}

#[tokio::test]
async fn github_newer_200_answer_carries_the_run_id() {
    let server = MockServer::start().await;
    Mock::given(path(DISPATCH_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"workflow_run_id": 987654321})),
        )
        .mount(&server)
        .await;
    let d = github_dispatch(
        &local_client(),
        &endpoints(&server),
        &github(),
        &notification(),
    )
    .await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.external_id.as_deref(), Some("987654321"));
}

#[tokio::test]
async fn github_422_is_permanent_with_githubs_message() {
    let server = MockServer::start().await;
    Mock::given(path(DISPATCH_PATH))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Unexpected inputs provided: [\"payload_json\"]",
            "documentation_url": "https://docs.github.com/rest"
        })))
        .mount(&server)
        .await;
    let d = github_dispatch(
        &local_client(),
        &endpoints(&server),
        &github(),
        &notification(),
    )
    .await;
    assert_permanent(&d);
    assert_eq!(d.status_code, Some(422));
    assert_eq!(
        d.detail,
        "GitHub answered 422: Unexpected inputs provided: [\"payload_json\"]"
    );
}

#[tokio::test]
async fn github_path_segments_are_validated_not_injected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let cases: [fn(&mut GithubTarget); 5] = [
        |t| t.owner = "acme/../../orgs".into(),
        |t| t.repo = "..".into(),
        |t| t.repo = "infra?x=1".into(),
        |t| t.workflow_id = "a/b.yml".into(),
        |t| t.git_ref = String::new(),
    ];
    for change in cases {
        let mut t = github();
        change(&mut t);
        let d = github_dispatch(&local_client(), &endpoints(&server), &t, &notification()).await;
        assert_permanent(&d);
        assert!(d.detail.starts_with("bad config:"), "{}", d.detail);
    }
    assert!(received(&server).await.is_empty());
}

fn gitlab(base_url: String) -> GitlabTarget {
    GitlabTarget {
        base_url,
        project_id: "acme/infra".into(),
        git_ref: "main".into(),
        trigger_token: SecretString::from(TRIGGER_TOKEN),
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test]
async fn gitlab_trigger_posts_the_form_to_the_encoded_project() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gl/api/v4/projects/acme%2Finfra/trigger/pipeline"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": 4242, "status": "created"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut n = notification();
    n.request_id = None;
    let d = gitlab_trigger(&local_client(), &gitlab(format!("{}/gl", server.uri())), &n).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.status_code, Some(201));
    assert_eq!(d.external_id.as_deref(), Some("4242"));

    let req = &received(&server).await[0];
    assert!(
        req.url
            .path()
            .ends_with("/projects/acme%2Finfra/trigger/pipeline"),
        "{}",
        req.url
    );
    let f = form(&req.body);
    assert_eq!(f["token"], TRIGGER_TOKEN);
    assert_eq!(f["ref"], "main");
    assert_eq!(f["variables[VALDRIX_EVENT_TYPE]"], "policy.block");
    assert_eq!(f["variables[VALDRIX_TENANT_ID]"], n.tenant_id);
    assert_eq!(f["variables[VALDRIX_REQUEST_ID]"], "");
    let payload: Value = serde_json::from_str(&f["variables[VALDRIX_PAYLOAD_JSON]"]).unwrap();
    assert_eq!(payload["resource_id"], "vol-0abc");
    assert_eq!(f.len(), 6);
}

#[tokio::test]
async fn gitlab_400_and_404_report_gitlabs_message() {
    let cases = [
        (
            400,
            json!({"message": {"base": ["Reference not found"]}}),
            "GitLab answered 400: {\"base\":[\"Reference not found\"]}",
        ),
        (
            400,
            json!({"error": "variables is invalid"}),
            "GitLab answered 400: variables is invalid",
        ),
        (
            404,
            json!({"message": "404 Not Found"}),
            "GitLab answered 404: 404 Not Found",
        ),
    ];
    for (status, body, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let d = gitlab_trigger(&local_client(), &gitlab(server.uri()), &notification()).await;
        assert_permanent(&d);
        assert_eq!(d.status_code, Some(status));
        assert_eq!(d.detail, expected);
    }
}

#[tokio::test]
async fn gitlab_base_url_is_ssrf_checked() {
    let prod = valdrix_shared::outbound::Outbound::new(
        valdrix_shared::outbound::Policy::default(),
        valdrix_shared::outbound::Timeouts::default(),
    );
    for base in [
        "http://gitlab.example.com",
        "https://10.0.0.8",
        "https://gitlab.local",
    ] {
        let d = gitlab_trigger(&prod, &gitlab(base.into()), &notification()).await;
        assert_permanent(&d);
        assert!(d.detail.starts_with("refused:"), "{base}: {}", d.detail);
    }
}
