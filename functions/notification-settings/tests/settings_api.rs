//! GET/PUT /api/v1/settings/notifications end to end on both store backends.

use http::Method;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::http::layers;
use valdrix_shared::state::SharedState;
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{call, state_with, unique, user_token};

const PATH: &str = "/api/v1/settings/notifications";
const JIRA_TOKEN: &str = "jira-planted-token-7Yq2Lm9X";
const GITHUB_TOKEN: &str = "ghp_planted_github_token_4Kd8";

struct Fixture {
    app: axum::Router,
    state: SharedState,
    tenant: String,
}

impl Fixture {
    async fn new(store: DynStore, tier: Tier) -> Self {
        let state = state_with(store);
        let tenant = unique("t");
        let ctx = ChangeContext {
            actor: Actor::System,
            request_id: None,
        };
        tenancy::create_tenant(&state.audit, Some(tenant.clone()), "T", tier, &ctx)
            .await
            .unwrap();
        for role in [Role::Owner, Role::Admin, Role::Member] {
            let user = format!("{tenant}-{}", role.as_str());
            tenancy::put_member(
                state.store.as_ref(),
                &state.audit,
                &tenant,
                &user,
                role,
                &format!("{}@t.io", role.as_str()),
                &ctx,
            )
            .await
            .unwrap();
        }
        let app = layers(notification_settings::router(state.clone()), &state.config);
        Self { app, state, tenant }
    }

    fn token(&self, role: &str) -> String {
        user_token(&format!("{}-{role}", self.tenant), &format!("{role}@t.io"))
    }

    async fn get(&self, role: &str) -> (u16, http::HeaderMap, Value) {
        let req = http::Request::builder()
            .method(Method::GET)
            .uri(PATH)
            .header("authorization", format!("Bearer {}", self.token(role)))
            .body(lambda_http::Body::Empty)
            .unwrap();
        call(&self.app, req).await
    }

    async fn put(
        &self,
        role: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> (u16, http::HeaderMap, Value) {
        let mut req = http::Request::builder()
            .method(Method::PUT)
            .uri(PATH)
            .header("authorization", format!("Bearer {}", self.token(role)))
            .header("content-type", "application/json");
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        call(
            &self.app,
            req.body(lambda_http::Body::Text(body.to_string())).unwrap(),
        )
        .await
    }

    async fn audit_events(&self) -> Vec<valdrix_shared::audit::AuditEvent> {
        self.state
            .audit
            .page(&self.tenant, 100, None, false)
            .await
            .unwrap()
            .0
    }
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().map_or(vec![], |e| {
        e.iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect()
    })
}

async fn get_answers_defaults_and_writes_nothing(store: DynStore) {
    let f = Fixture::new(store.clone(), Tier::Pro).await;
    let (status, headers, body) = f.get("member").await;
    assert_eq!(status, 200);
    assert_eq!(headers["etag"], "\"0\"");
    assert_eq!(body["version"], 0);
    assert_eq!(body["slack_enabled"], true);
    assert_eq!(body["jira_issue_type"], "Task");
    assert_eq!(body["workflow_gitlab_base_url"], "https://gitlab.com");
    for key in [
        "slack_channel_override",
        "jira_base_url",
        "workflow_webhook_url",
    ] {
        assert!(
            body.get(key).is_some_and(Value::is_null),
            "{key} missing or not null"
        );
    }
    for flag in [
        "has_jira_api_token",
        "has_workflow_github_token",
        "has_workflow_gitlab_trigger_token",
        "has_workflow_webhook_bearer_token",
        "has_workflow_webhook_signing_secret",
    ] {
        assert_eq!(body[flag], false, "{flag}");
    }
    assert!(body.get("secrets").is_none());
    assert!(
        store
            .get(&format!("TENANT#{}", f.tenant), "SETTINGS#notifications")
            .await
            .unwrap()
            .is_none(),
        "GET wrote"
    );
}

async fn put_round_trips_keeps_omitted_fields_and_hides_secrets(store: DynStore) {
    let f = Fixture::new(store.clone(), Tier::Pro).await;
    let (status, headers, body) = f
        .put("admin", json!({"slack_channel_override": "#finops-alerts", "jira_enabled": true, "jira_base_url": "https://acme.atlassian.net",
            "jira_email": "ops@acme.io", "jira_project_key": "OPS", "jira_api_token": JIRA_TOKEN}), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(
        (body["version"].clone(), body["has_jira_api_token"].clone()),
        (json!(1), json!(true))
    );
    assert!(!body.to_string().contains(JIRA_TOKEN));

    // Omitted fields, the secret among them, are kept.
    let (status, _, body) = f
        .put("owner", json!({"jira_issue_type": "Bug"}), Some("\"1\""))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["slack_channel_override"], "#finops-alerts");
    assert_eq!(body["has_jira_api_token"], true);
    assert_eq!(body["jira_issue_type"], "Bug");

    // A null clears a nullable field; the stored ciphertext never holds the token.
    let (_, _, body) = f
        .put("owner", json!({"slack_channel_override": null}), None)
        .await;
    assert!(body["slack_channel_override"].is_null());
    let raw = store
        .get(&format!("TENANT#{}", f.tenant), "SETTINGS#notifications")
        .await
        .unwrap()
        .unwrap();
    let raw = Value::Object(raw).to_string();
    assert!(raw.contains("jira_api_token") && !raw.contains(JIRA_TOKEN));
    let (settings, _) = valdrix_shared::settings::load(store.as_ref(), &f.tenant)
        .await
        .unwrap();
    let opened = settings
        .secret(
            &f.state.keys,
            &f.tenant,
            valdrix_shared::settings::SecretField::JiraApiToken,
        )
        .unwrap()
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&opened), JIRA_TOKEN);

    // Every PUT is audited by field name, never by value.
    let events = f.audit_events().await;
    let puts: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "settings.notifications_updated")
        .collect();
    assert_eq!(puts.len(), 3);
    assert!(
        puts[0].details["changed_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("jira_api_token"))
    );
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(JIRA_TOKEN) && !all.contains("finops-alerts"));
}

async fn secrets_can_be_cleared_but_not_set_and_cleared_at_once(store: DynStore) {
    let f = Fixture::new(store, Tier::Enterprise).await;
    let base = json!({"workflow_github_owner": "acme", "workflow_github_repo": "infra", "workflow_github_workflow_id": "valdrix.yml", "workflow_github_token": GITHUB_TOKEN});
    assert_eq!(f.put("owner", base, None).await.0, 200);
    let (status, _, problem) = f
        .put(
            "owner",
            json!({"workflow_github_token": GITHUB_TOKEN, "clear_workflow_github_token": true}),
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&problem), ["workflow_github_token"]);
    let (status, _, body) = f
        .put("owner", json!({"clear_workflow_github_token": true}), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["has_workflow_github_token"], false);
    for short in ["", "1234567"] {
        let (status, _, problem) = f
            .put("owner", json!({"workflow_github_token": short}), None)
            .await;
        assert_eq!(
            (status, fields(&problem)),
            (422, vec!["workflow_github_token".to_string()])
        );
    }
}

async fn bad_input_is_422_naming_each_field_and_changes_nothing(store: DynStore) {
    let f = Fixture::new(store, Tier::Pro).await;
    let (status, _, problem) = f
        .put(
            "owner",
            json!({"slack_enabled": true, "colour": "red"}),
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert!(problem.to_string().contains("colour"), "{problem}");
    let (status, _, problem) = f
        .put("owner", json!({"slack_channel_override": "general chat", "jira_email": "nope", "jira_project_key": "ops",
            "workflow_github_owner": "ac/me", "workflow_github_ref": "bad ref", "jira_base_url": "https://127.0.0.1"}), None)
        .await;
    assert_eq!(status, 422);
    let mut named = fields(&problem);
    named.sort();
    assert_eq!(
        named,
        [
            "jira_base_url",
            "jira_email",
            "jira_project_key",
            "slack_channel_override",
            "workflow_github_owner",
            "workflow_github_ref"
        ]
    );
    assert!(
        f.audit_events()
            .await
            .iter()
            .all(|e| e.event_type != "settings.notifications_updated")
    );
    assert_eq!(f.get("member").await.2["version"], 0);
}

async fn tenant_urls_are_ssrf_checked_at_put(store: DynStore) {
    let f = Fixture::new(store, Tier::Pro).await;
    for url in [
        "http://acme.atlassian.net",
        "https://localhost",
        "https://169.254.169.254",
        "https://0x7f000001",
        "https://2130706433",
        "https://[::1]",
        "https://10.0.0.5",
        "https://[fd00:ec2::254]",
        "https://user:pw@acme.atlassian.net",
    ] {
        let (status, _, problem) = f
            .put("owner", json!({"workflow_webhook_url": url}), None)
            .await;
        assert_eq!(status, 422, "{url} accepted");
        assert_eq!(fields(&problem), ["workflow_webhook_url"], "{url}");
    }
    // A name that does not resolve is not a PUT error: the full check runs at every call.
    let (status, _, body) = f
        .put(
            "owner",
            json!({"workflow_gitlab_base_url": "https://gitlab.acme.invalid"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn roles_tiers_and_completeness(store: DynStore) {
    let f = Fixture::new(store, Tier::Starter).await;
    assert_eq!(
        f.put("member", json!({"slack_enabled": false}), None)
            .await
            .0,
        403
    );
    let (status, _, problem) = f.put("admin", json!({"jira_enabled": true}), None).await;
    assert_eq!(status, 403);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("incident_integrations") && detail.contains("starter"),
        "{detail}"
    );
    assert_eq!(
        f.put(
            "admin",
            json!({"slack_channel_override": "C0123456789"}),
            None
        )
        .await
        .0,
        200,
        "Slack is open to every tier"
    );

    let pro = Fixture::new(f.state.store.clone(), Tier::Pro).await;
    let (status, _, problem) = pro
        .put(
            "owner",
            json!({"jira_enabled": true, "workflow_gitlab_enabled": true}),
            None,
        )
        .await;
    assert_eq!(status, 422);
    let mut named = fields(&problem);
    named.sort();
    assert_eq!(
        named,
        [
            "jira_api_token",
            "jira_base_url",
            "jira_email",
            "jira_project_key",
            "workflow_gitlab_project_id",
            "workflow_gitlab_trigger_token"
        ]
    );
}

/// A stale `If-Match` is 412 (RFC 9110, 13.1.1); a stale body `version` 409.
async fn stale_versions_are_412_or_409_and_write_nothing(store: DynStore) {
    let f = Fixture::new(store, Tier::Pro).await;
    assert_eq!(
        f.put(
            "owner",
            json!({"slack_channel_override": "#a"}),
            Some("\"0\"")
        )
        .await
        .0,
        200
    );
    let (status, _, _) = f
        .put(
            "owner",
            json!({"slack_channel_override": "#b"}),
            Some("\"0\""),
        )
        .await;
    assert_eq!(status, 412);
    let (status, _, _) = f
        .put(
            "owner",
            json!({"slack_channel_override": "#b", "version": 0}),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let (status, _, _) = f
        .put(
            "owner",
            json!({"slack_channel_override": "#b", "version": 2}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(status, 422, "If-Match and version disagree");
    let (_, headers, body) = f.get("member").await;
    assert_eq!(
        (
            body["slack_channel_override"].clone(),
            headers["etag"].to_str().unwrap()
        ),
        (json!("#a"), "\"1\"")
    );
}

async fn webhook_signing_secret_is_shown_once(store: DynStore) {
    let f = Fixture::new(store, Tier::Pro).await;
    let (status, _, body) = f.put("owner", json!({"workflow_webhook_enabled": true, "workflow_webhook_url": "https://hooks.acme.io/valdrix"}), None).await;
    assert_eq!(status, 200, "{body}");
    let first = body["workflow_webhook_signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(first.starts_with("whsec_"));
    let (_, _, body) = f.get("admin").await;
    assert!(body.get("workflow_webhook_signing_secret").is_none());
    assert_eq!(body["has_workflow_webhook_signing_secret"], true);
    let (_, _, body) = f.put("owner", json!({"slack_enabled": true}), None).await;
    assert!(
        body.get("workflow_webhook_signing_secret").is_none(),
        "not shown again"
    );
    let (_, _, body) = f
        .put(
            "owner",
            json!({"rotate_workflow_webhook_signing_secret": true}),
            None,
        )
        .await;
    let second = body["workflow_webhook_signing_secret"].as_str().unwrap();
    assert_ne!(second, first);
    let all = serde_json::to_string(&f.audit_events().await).unwrap();
    assert!(!all.contains(&first) && !all.contains(second));
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::sqlite_store().await).await } )* }
        mod dynamo { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::dynamo_store().await).await } )* }
    };
}

on_both_backends!(
    get_answers_defaults_and_writes_nothing,
    put_round_trips_keeps_omitted_fields_and_hides_secrets,
    secrets_can_be_cleared_but_not_set_and_cleared_at_once,
    bad_input_is_422_naming_each_field_and_changes_nothing,
    tenant_urls_are_ssrf_checked_at_put,
    roles_tiers_and_completeness,
    stale_versions_are_412_or_409_and_write_nothing,
    webhook_signing_secret_is_shown_once,
);
