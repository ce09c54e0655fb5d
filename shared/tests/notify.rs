//! `shared::notify`: target resolution from stored settings, concurrent
//! sending, and passive checks that send nothing.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::json;
use url::Url;
use valdrix_shared::config::RuntimeConfig;
use valdrix_shared::crypto::SecretBox;
use valdrix_shared::notify::{
    self, Channel, Integrations, RunOutcome, Target, TargetKind, jira_target, slack_target,
    workflow_targets,
};
use valdrix_shared::outbound::vendor::Endpoints;
use valdrix_shared::outbound::{Policy, Timeouts};
use valdrix_shared::settings::{self, NotificationSettings, SecretField, SettingsUpdate};
use valdrix_shared::tenancy::Tier;
use valdrix_tests::test_config;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "acme";
const BOT_TOKEN: &str = "xoxb-notify-unit-9a8b7c";

fn local_config() -> RuntimeConfig {
    test_config(&[
        ("VALDRIX_ALLOW_PRIVATE_OUTBOUND", "true"),
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
    ])
}

fn integrations(config: &RuntimeConfig, server: &MockServer) -> Integrations {
    let base = Url::parse(&server.uri()).unwrap();
    let endpoints = Endpoints {
        slack_api: base.join("/api/").unwrap(),
        github_api: base,
    };
    Integrations::with(config, endpoints, Timeouts::default())
}

/// Settings through the real update path.
fn applied(
    config: &RuntimeConfig,
    keys: &SecretBox,
    update: serde_json::Value,
) -> NotificationSettings {
    let update: SettingsUpdate = serde_json::from_value(update).unwrap();
    settings::apply(
        &NotificationSettings::default(),
        update,
        Tier::Pro,
        TENANT,
        keys,
        Policy::from_config(config),
    )
    .unwrap_or_else(|r| panic!("{r:?}"))
    .settings
}

fn full(uri: &str) -> serde_json::Value {
    json!({
        "slack_channel_override": "C0123456789",
        "jira_enabled": true,
        "jira_base_url": uri,
        "jira_email": "bot@acme.example",
        "jira_project_key": "OPS",
        "jira_api_token": "jira-token-1234",
        "workflow_github_enabled": true,
        "workflow_github_owner": "acme",
        "workflow_github_repo": "deploy",
        "workflow_github_workflow_id": "valdrix.yml",
        "workflow_github_token": "ghp_token_1234",
        "workflow_gitlab_enabled": true,
        "workflow_gitlab_base_url": uri,
        "workflow_gitlab_project_id": "42",
        "workflow_gitlab_trigger_token": "glptt-1234",
        "workflow_webhook_enabled": true,
        "workflow_webhook_url": format!("{uri}/hook"),
    })
}

#[test]
fn slack_needs_the_tenants_channel_and_the_operator_token_and_says_which_is_missing() {
    let with_token = local_config();
    let without_token = test_config(&[]);
    let mut s = NotificationSettings::default();

    let err = slack_target(&s, &without_token).unwrap_err();
    assert_eq!(err.channel, Channel::Slack);
    assert_eq!(
        err.missing,
        [
            "Slack channel is not set (slack_channel_override)",
            "SLACK_BOT_TOKEN is not configured by the operator"
        ]
    );
    assert!(
        err.to_string()
            .starts_with("Slack is not configured for this tenant: ")
    );

    s.slack_channel_override = Some("#ops".into());
    s.slack_enabled = false;
    let err = slack_target(&s, &with_token).unwrap_err();
    assert_eq!(err.missing, ["Slack is disabled (slack_enabled is false)"]);

    s.slack_enabled = true;
    match slack_target(&s, &with_token).unwrap() {
        Target::Slack { target, bot_token } => {
            assert_eq!(target.channel, "#ops");
            assert_eq!(bot_token.expose_secret(), BOT_TOKEN);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_operator_channel_variable_is_never_a_fallback() {
    let config = test_config(&[
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SLACK_CHANNEL_ID", "C0999999999"),
    ]);
    let err = slack_target(&NotificationSettings::default(), &config).unwrap_err();
    assert_eq!(
        err.missing,
        ["Slack channel is not set (slack_channel_override)"]
    );
}

#[test]
fn jira_and_workflow_resolve_from_stored_settings_with_secrets_opened() {
    let config = local_config();
    let keys = SecretBox::from_config(&config);
    let s = applied(&config, &keys, full("https://jira.acme.example"));

    match jira_target(&s, &keys, TENANT).unwrap() {
        Target::Jira(t) => {
            assert_eq!(t.api_token.expose_secret(), "jira-token-1234");
            assert_eq!(
                (t.project_key.as_str(), t.issue_type.as_str()),
                ("OPS", "Task")
            );
        }
        other => panic!("{other:?}"),
    }
    let targets = workflow_targets(&s, &keys, TENANT).unwrap();
    let kinds: Vec<TargetKind> = targets.iter().map(Target::kind).collect();
    assert_eq!(
        kinds,
        [
            TargetKind::GithubActions,
            TargetKind::GitlabCi,
            TargetKind::Webhook
        ]
    );
    let secrets: Vec<&str> = targets.iter().flat_map(Target::secrets).collect();
    assert!(secrets.contains(&"ghp_token_1234") && secrets.contains(&"glptt-1234"));
    assert!(
        secrets.iter().any(|s| s.starts_with("whsec_")),
        "the signing secret"
    );

    // Another tenant's id cannot open these secrets.
    let err = jira_target(&s, &keys, "globex").unwrap_err();
    assert!(
        err.missing
            .iter()
            .any(|m| m.contains("cannot be decrypted") && m.contains("jira_api_token")),
        "{err}"
    );
}

#[test]
fn incomplete_workflow_targets_are_skipped_and_named_when_nothing_is_left() {
    let config = local_config();
    let keys = SecretBox::from_config(&config);
    let mut s = applied(&config, &keys, full("https://ci.acme.example"));
    // As if a secret was lost: enabled but incomplete.
    s.secrets.remove(SecretField::GithubToken.name());
    let kinds: Vec<TargetKind> = workflow_targets(&s, &keys, TENANT)
        .unwrap()
        .iter()
        .map(Target::kind)
        .collect();
    assert_eq!(kinds, [TargetKind::GitlabCi, TargetKind::Webhook]);

    s.workflow_gitlab_project_id = None;
    s.workflow_webhook_enabled = false;
    let err = workflow_targets(&s, &keys, TENANT).unwrap_err();
    assert_eq!(err.channel, Channel::Workflow);
    assert_eq!(
        err.missing,
        [
            "GitHub Actions token is not set (workflow_github_token)",
            "GitLab CI project is not set (workflow_gitlab_project_id)"
        ]
    );

    let err = workflow_targets(&NotificationSettings::default(), &keys, TENANT).unwrap_err();
    assert!(
        err.to_string().contains("no workflow target is enabled"),
        "{err}"
    );
}

#[tokio::test]
async fn workflow_targets_are_sent_concurrently_in_order() {
    let server = MockServer::start().await;
    let delay = Duration::from_millis(600);
    for (p, status) in [
        (
            "/repos/acme/deploy/actions/workflows/valdrix.yml/dispatches",
            204,
        ),
        ("/api/v4/projects/42/trigger/pipeline", 201),
        ("/hook", 200),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(status).set_delay(delay))
            .expect(1)
            .mount(&server)
            .await;
    }
    let config = local_config();
    let keys = SecretBox::from_config(&config);
    let s = applied(&config, &keys, full(&server.uri()));
    let targets = workflow_targets(&s, &keys, TENANT).unwrap();
    let n = notify::test_notification(Channel::Workflow, TENANT, "run-1");

    let started = Instant::now();
    let results = notify::send(&integrations(&config, &server), &targets, &n).await;
    let elapsed = started.elapsed();
    assert!(elapsed < delay * 2, "sent one after another: {elapsed:?}");
    let summary: Vec<(TargetKind, bool, Option<u16>)> = results
        .iter()
        .map(|r| (r.target, r.ok, r.status_code))
        .collect();
    assert_eq!(
        summary,
        [
            (TargetKind::GithubActions, true, Some(204)),
            (TargetKind::GitlabCi, true, Some(201)),
            (TargetKind::Webhook, true, Some(200)),
        ]
    );
    assert_eq!(RunOutcome::of(&results), RunOutcome::Success);
}

#[tokio::test]
async fn passive_checks_call_only_read_endpoints_and_never_a_workflow() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "team_id": "T1"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"accountId": "a-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let config = local_config();
    let keys = SecretBox::from_config(&config);
    let s = applied(&config, &keys, full(&server.uri()));
    let integrations = integrations(&config, &server);

    let mut targets = vec![
        slack_target(&s, &config).unwrap(),
        jira_target(&s, &keys, TENANT).unwrap(),
    ];
    targets.extend(workflow_targets(&s, &keys, TENANT).unwrap());
    for target in &targets {
        let r = notify::passive_check(&integrations, target).await;
        assert!(r.ok, "{r:?}");
    }
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/api/auth.test", "/rest/api/3/myself"]);

    // Without the local allowance the same loopback targets fail the SSRF check.
    let strict = test_config(&[("SLACK_BOT_TOKEN", BOT_TOKEN)]);
    let strict = Integrations::with(&strict, integrations.endpoints.clone(), Timeouts::default());
    let webhook = targets.last().unwrap();
    let r = notify::passive_check(&strict, webhook).await;
    assert!(!r.ok);
    assert!(r.detail.starts_with("refused: "), "{}", r.detail);
    assert!(
        !r.detail.contains("/hook"),
        "no path in the detail: {}",
        r.detail
    );
}
