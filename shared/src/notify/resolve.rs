//! A tenant's settings to ready-to-call targets. Nothing here falls back to an
//! operator-wide destination: the Slack channel is the tenant's own or there is
//! none (original_system.md §11.1), and only the bot token is the operator's.

use secrecy::{ExposeSecret, SecretString};

use super::{Channel, TargetKind};
use crate::config::RuntimeConfig;
use crate::crypto::SecretBox;
use crate::outbound::vendor::{GithubTarget, GitlabTarget, JiraTarget, SlackTarget, WebhookTarget};
use crate::settings::{NotificationSettings, SecretField};

/// Everything one call needs, secrets opened.
#[derive(Debug, Clone)]
pub enum Target {
    Slack {
        target: SlackTarget,
        /// The operator's `SLACK_BOT_TOKEN`.
        bot_token: SecretString,
    },
    Jira(JiraTarget),
    Github(GithubTarget),
    Gitlab(GitlabTarget),
    Webhook(WebhookTarget),
}

impl Target {
    pub fn kind(&self) -> TargetKind {
        match self {
            Self::Slack { .. } => TargetKind::Slack,
            Self::Jira(_) => TargetKind::Jira,
            Self::Github(_) => TargetKind::GithubActions,
            Self::Gitlab(_) => TargetKind::GitlabCi,
            Self::Webhook(_) => TargetKind::Webhook,
        }
    }

    /// The secret values this target holds, for a redactor
    /// (`audit.redactor().with(...)`); never for output.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Self::Slack { bot_token, .. } => vec![bot_token.expose_secret()],
            Self::Jira(t) => vec![t.api_token.expose_secret()],
            Self::Github(t) => vec![t.token.expose_secret()],
            Self::Gitlab(t) => vec![t.trigger_token.expose_secret()],
            Self::Webhook(t) => {
                let mut out = vec![t.signing_secret.expose_secret()];
                out.extend(t.bearer_token.as_ref().map(|b| b.expose_secret()));
                out
            }
        }
    }
}

/// Why a channel cannot be used for a tenant: every missing piece, named by
/// its settings field or operator variable. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not configured for this tenant: {}", .channel.label(), .missing.join("; "))]
pub struct NotConfigured {
    pub channel: Channel,
    pub missing: Vec<String>,
}

/// The targets of `channel` for this tenant: one for Slack and Jira, every
/// enabled and complete one for the workflow channel.
pub fn resolve(
    channel: Channel,
    settings: &NotificationSettings,
    config: &RuntimeConfig,
    keys: &SecretBox,
    tenant_id: &str,
) -> Result<Vec<Target>, NotConfigured> {
    match channel {
        Channel::Slack => slack_target(settings, config).map(|t| vec![t]),
        Channel::Jira => jira_target(settings, keys, tenant_id).map(|t| vec![t]),
        Channel::Workflow => workflow_targets(settings, keys, tenant_id),
    }
}

/// The tenant's Slack channel with the operator's bot token. Needs
/// `slack_enabled`, a `slack_channel_override` and `SLACK_BOT_TOKEN`.
pub fn slack_target(
    settings: &NotificationSettings,
    config: &RuntimeConfig,
) -> Result<Target, NotConfigured> {
    let mut missing = Vec::new();
    if !settings.slack_enabled {
        missing.push("Slack is disabled (slack_enabled is false)".to_owned());
    }
    let channel = present(&settings.slack_channel_override);
    if channel.is_none() {
        missing.push("Slack channel is not set (slack_channel_override)".to_owned());
    }
    let token = config
        .slack_bot_token
        .as_ref()
        .filter(|t| !t.expose_secret().trim().is_empty());
    if token.is_none() {
        missing.push("SLACK_BOT_TOKEN is not configured by the operator".to_owned());
    }
    match (missing.is_empty(), channel, token) {
        (true, Some(channel), Some(token)) => Ok(Target::Slack {
            target: SlackTarget {
                channel: channel.to_owned(),
            },
            bot_token: token.clone(),
        }),
        _ => Err(NotConfigured {
            channel: Channel::Slack,
            missing,
        }),
    }
}

/// The tenant's Jira project. Needs `jira_enabled`, the base URL, email,
/// project key and API token.
pub fn jira_target(
    settings: &NotificationSettings,
    keys: &SecretBox,
    tenant_id: &str,
) -> Result<Target, NotConfigured> {
    let mut missing = Vec::new();
    if !settings.jira_enabled {
        missing.push("Jira is disabled (jira_enabled is false)".to_owned());
    }
    let mut need = Need::new(&mut missing, "Jira");
    let base_url = need.field("base URL", "jira_base_url", &settings.jira_base_url);
    let email = need.field("email", "jira_email", &settings.jira_email);
    let project_key = need.field(
        "project key",
        "jira_project_key",
        &settings.jira_project_key,
    );
    let token = need.secret(
        settings,
        keys,
        tenant_id,
        "API token",
        SecretField::JiraApiToken,
    );
    match (missing.is_empty(), base_url, email, project_key, token) {
        (true, Some(base_url), Some(email), Some(project_key), Some(api_token)) => {
            Ok(Target::Jira(JiraTarget {
                base_url,
                email,
                api_token,
                project_key,
                issue_type: settings.jira_issue_type.trim().to_owned(),
            }))
        }
        _ => Err(NotConfigured {
            channel: Channel::Jira,
            missing,
        }),
    }
}

/// Every enabled and complete workflow target, in the order GitHub Actions,
/// GitLab CI, webhook. An enabled but incomplete one is skipped (and logged);
/// `NotConfigured` only when none is usable, naming why for each.
pub fn workflow_targets(
    settings: &NotificationSettings,
    keys: &SecretBox,
    tenant_id: &str,
) -> Result<Vec<Target>, NotConfigured> {
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    let mut skipped = |kind: TargetKind, reasons: Vec<String>| {
        tracing::warn!(
            tenant_id,
            target = kind.as_str(),
            missing = ?reasons,
            "workflow target enabled but incomplete; skipped"
        );
        missing.extend(reasons);
    };

    if settings.workflow_github_enabled {
        match github(settings, keys, tenant_id) {
            Ok(t) => targets.push(t),
            Err(reasons) => skipped(TargetKind::GithubActions, reasons),
        }
    }
    if settings.workflow_gitlab_enabled {
        match gitlab(settings, keys, tenant_id) {
            Ok(t) => targets.push(t),
            Err(reasons) => skipped(TargetKind::GitlabCi, reasons),
        }
    }
    if settings.workflow_webhook_enabled {
        match webhook(settings, keys, tenant_id) {
            Ok(t) => targets.push(t),
            Err(reasons) => skipped(TargetKind::Webhook, reasons),
        }
    }
    let none_enabled = !(settings.workflow_github_enabled
        || settings.workflow_gitlab_enabled
        || settings.workflow_webhook_enabled);
    if none_enabled {
        missing.push(
            "no workflow target is enabled (workflow_github_enabled, workflow_gitlab_enabled, \
             workflow_webhook_enabled)"
                .to_owned(),
        );
    }
    if targets.is_empty() {
        Err(NotConfigured {
            channel: Channel::Workflow,
            missing,
        })
    } else {
        Ok(targets)
    }
}

fn github(
    s: &NotificationSettings,
    keys: &SecretBox,
    tenant_id: &str,
) -> Result<Target, Vec<String>> {
    let mut missing = Vec::new();
    let mut need = Need::new(&mut missing, "GitHub Actions");
    let owner = need.field("owner", "workflow_github_owner", &s.workflow_github_owner);
    let repo = need.field(
        "repository",
        "workflow_github_repo",
        &s.workflow_github_repo,
    );
    let workflow_id = need.field(
        "workflow",
        "workflow_github_workflow_id",
        &s.workflow_github_workflow_id,
    );
    let token = need.secret(s, keys, tenant_id, "token", SecretField::GithubToken);
    match (owner, repo, workflow_id, token) {
        (Some(owner), Some(repo), Some(workflow_id), Some(token)) if missing.is_empty() => {
            Ok(Target::Github(GithubTarget {
                owner,
                repo,
                workflow_id,
                git_ref: s.workflow_github_ref.clone(),
                token,
            }))
        }
        _ => Err(missing),
    }
}

fn gitlab(
    s: &NotificationSettings,
    keys: &SecretBox,
    tenant_id: &str,
) -> Result<Target, Vec<String>> {
    let mut missing = Vec::new();
    let mut need = Need::new(&mut missing, "GitLab CI");
    let project_id = need.field(
        "project",
        "workflow_gitlab_project_id",
        &s.workflow_gitlab_project_id,
    );
    let token = need.secret(
        s,
        keys,
        tenant_id,
        "trigger token",
        SecretField::GitlabTriggerToken,
    );
    match (project_id, token) {
        (Some(project_id), Some(trigger_token)) if missing.is_empty() => {
            Ok(Target::Gitlab(GitlabTarget {
                base_url: s.workflow_gitlab_base_url.clone(),
                project_id,
                git_ref: s.workflow_gitlab_ref.clone(),
                trigger_token,
            }))
        }
        _ => Err(missing),
    }
}

fn webhook(
    s: &NotificationSettings,
    keys: &SecretBox,
    tenant_id: &str,
) -> Result<Target, Vec<String>> {
    let mut missing = Vec::new();
    let mut need = Need::new(&mut missing, "The webhook");
    let url = need.field("URL", "workflow_webhook_url", &s.workflow_webhook_url);
    let signing = need.secret(
        s,
        keys,
        tenant_id,
        "signing secret (rotate_workflow_webhook_signing_secret makes one)",
        SecretField::WebhookSigningSecret,
    );
    // Optional: absent is fine, unreadable is not.
    let bearer = if s.has(SecretField::WebhookBearerToken) {
        need.secret(
            s,
            keys,
            tenant_id,
            "bearer token",
            SecretField::WebhookBearerToken,
        )
    } else {
        None
    };
    match (url, signing) {
        (Some(url), Some(signing_secret)) if missing.is_empty() => {
            Ok(Target::Webhook(WebhookTarget {
                url,
                bearer_token: bearer,
                signing_secret,
            }))
        }
        _ => Err(missing),
    }
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Collects what an integration lacks, in words that name the field.
struct Need<'a> {
    missing: &'a mut Vec<String>,
    integration: &'static str,
}

impl<'a> Need<'a> {
    fn new(missing: &'a mut Vec<String>, integration: &'static str) -> Self {
        Self {
            missing,
            integration,
        }
    }

    fn field(&mut self, what: &str, field: &str, value: &Option<String>) -> Option<String> {
        let value = present(value).map(str::to_owned);
        if value.is_none() {
            self.missing
                .push(format!("{} {what} is not set ({field})", self.integration));
        }
        value
    }

    fn secret(
        &mut self,
        settings: &NotificationSettings,
        keys: &SecretBox,
        tenant_id: &str,
        what: &str,
        field: SecretField,
    ) -> Option<SecretString> {
        match settings.secret(keys, tenant_id, field) {
            Ok(Some(secret)) => Some(secret),
            Ok(None) => {
                self.missing.push(format!(
                    "{} {what} is not set ({})",
                    self.integration,
                    field.name()
                ));
                None
            }
            Err(error) => {
                tracing::error!(
                    tenant_id,
                    field = field.name(),
                    %error,
                    "stored integration secret cannot be opened with the configured keys"
                );
                self.missing.push(format!(
                    "{} {what} cannot be decrypted with the configured keys; enter it again ({})",
                    self.integration,
                    field.name()
                ));
                None
            }
        }
    }
}
