//! The demo tenant of `valdrix serve` and `valdrix local-stack`: tenant
//! `demo` (pro), a user per role, and with `--sandbox` its notification
//! settings pointed at the fake receivers. Its one home.

use secrecy::{ExposeSecret, SecretString};
use valdrix_shared::audit::Actor;
use valdrix_shared::outbound::ssrf::Policy;
use valdrix_shared::outbound::webhook_sig;
use valdrix_shared::settings::{self, SecretField, SettingsUpdate};
use valdrix_shared::state::SharedState;
use valdrix_shared::tenancy::{self, ChangeContext, Role, TenancyError, Tier};

use crate::sandbox::{
    GITHUB_TOKEN, GITLAB_TOKEN, JIRA_TOKEN, SLACK_CHANNEL, Sandbox, WEBHOOK_BEARER,
};

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_USERS: [(&str, Role); 3] = [
    ("demo-owner", Role::Owner),
    ("demo-admin", Role::Admin),
    ("demo-member", Role::Member),
];

/// The demo tenant (pro) and one user per role; safe to run at every start.
pub async fn seed(state: &SharedState) -> Result<(), TenancyError> {
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    let store = state.store.as_ref();
    if tenancy::get_tenant(store, DEMO_TENANT).await?.is_none() {
        tenancy::create_tenant(
            &state.audit,
            Some(DEMO_TENANT.into()),
            "Demo Co",
            Tier::Pro,
            &ctx,
        )
        .await?;
    }
    for (user, role) in DEMO_USERS {
        if tenancy::get_membership(store, user).await?.is_none() {
            let email = format!("{user}@demo.valdrix.local");
            tenancy::put_member(store, &state.audit, DEMO_TENANT, user, role, &email, &ctx).await?;
        }
    }
    Ok(())
}

/// Points the demo tenant's notification settings at the receivers, through
/// the same apply-and-save path (and audit) a PUT takes. Saves only when
/// something changed, so restarts on other ports update and idle restarts don't.
pub async fn point_at_sandbox(state: &SharedState, sandbox: &Sandbox) -> Result<(), String> {
    let store = state.store.as_ref();
    let tier = tenancy::get_tenant(store, DEMO_TENANT)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the demo tenant does not exist")?
        .tier;
    let (current, version) = settings::load(store, DEMO_TENANT)
        .await
        .map_err(|e| e.to_string())?;
    let set = |v: &str| Some(Some(v.to_owned()));
    let mut update = SettingsUpdate {
        slack_enabled: Some(true),
        slack_channel_override: set(SLACK_CHANNEL),
        jira_enabled: Some(true),
        jira_base_url: set(sandbox.jira_url.as_str().trim_end_matches('/')),
        jira_email: set("demo-owner@demo.valdrix.local"),
        jira_project_key: set("SBX"),
        jira_issue_type: Some("Task".into()),
        workflow_github_enabled: Some(true),
        workflow_github_owner: set("valdrix-demo"),
        workflow_github_repo: set("sandbox"),
        workflow_github_workflow_id: set("valdrix.yml"),
        workflow_github_ref: Some("main".into()),
        workflow_gitlab_enabled: Some(true),
        workflow_gitlab_base_url: Some(sandbox.gitlab_url.as_str().trim_end_matches('/').into()),
        workflow_gitlab_project_id: set("valdrix-demo/sandbox"),
        workflow_gitlab_ref: Some("main".into()),
        workflow_webhook_enabled: Some(true),
        workflow_webhook_url: set(sandbox.webhook_url.as_str()),
        ..SettingsUpdate::default()
    };
    let secret = |field: SecretField, value: &str| {
        (!current.has(field)).then(|| SecretString::from(value.to_owned()))
    };
    update.jira_api_token = secret(SecretField::JiraApiToken, JIRA_TOKEN);
    update.workflow_github_token = secret(SecretField::GithubToken, GITHUB_TOKEN);
    update.workflow_gitlab_trigger_token = secret(SecretField::GitlabTriggerToken, GITLAB_TOKEN);
    update.workflow_webhook_bearer_token = secret(SecretField::WebhookBearerToken, WEBHOOK_BEARER);

    let applied = settings::apply(
        &current,
        update,
        tier,
        DEMO_TENANT,
        &state.keys,
        Policy::from_config(&state.config),
    )
    .map_err(|r| format!("the sandbox settings were refused: {r:?}"))?;
    let signing = match &applied.new_signing_secret {
        Some(s) => Some(s.clone()),
        None => current
            .secret(&state.keys, DEMO_TENANT, SecretField::WebhookSigningSecret)
            .map_err(|e| format!("the demo webhook signing secret cannot be opened: {e}"))?,
    };
    if !applied.changed.is_empty() {
        let ctx = ChangeContext {
            actor: Actor::System,
            request_id: None,
        };
        match settings::save(&state.audit, DEMO_TENANT, &applied, version, &ctx)
            .await
            .map_err(|e| e.to_string())?
        {
            settings::Saved::Ok { .. } => {}
            settings::Saved::Stale => {
                return Err("the demo settings changed meanwhile; restart".into());
            }
        }
    }
    if let Some(secret) = signing {
        debug_assert!(
            secret
                .expose_secret()
                .starts_with(webhook_sig::SECRET_PREFIX)
        );
        sandbox.learn_signing_secret(secret);
    }
    Ok(())
}
