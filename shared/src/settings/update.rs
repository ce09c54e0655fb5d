//! A PUT of notification settings: field checks, secret handling, the tier
//! gate and completeness of the merged record. Omitted fields are kept; an
//! explicit `null` clears a nullable field.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use super::{NotificationSettings, SecretField, fields};
use crate::crypto::SecretBox;
use crate::outbound::ssrf;
use crate::tenancy::Tier;
use crate::validate::{self, FieldViolation};

/// `Some(None)` for an explicit null, `None` when the field is absent.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    pub version: Option<u64>,
    pub slack_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub slack_channel_override: Option<Option<String>>,
    pub jira_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub jira_base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub jira_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub jira_project_key: Option<Option<String>>,
    pub jira_issue_type: Option<String>,
    pub jira_api_token: Option<SecretString>,
    pub clear_jira_api_token: Option<bool>,
    pub workflow_github_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub workflow_github_owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub workflow_github_repo: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub workflow_github_workflow_id: Option<Option<String>>,
    pub workflow_github_ref: Option<String>,
    pub workflow_github_token: Option<SecretString>,
    pub clear_workflow_github_token: Option<bool>,
    pub workflow_gitlab_enabled: Option<bool>,
    pub workflow_gitlab_base_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub workflow_gitlab_project_id: Option<Option<String>>,
    pub workflow_gitlab_ref: Option<String>,
    pub workflow_gitlab_trigger_token: Option<SecretString>,
    pub clear_workflow_gitlab_trigger_token: Option<bool>,
    pub workflow_webhook_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub workflow_webhook_url: Option<Option<String>>,
    pub workflow_webhook_bearer_token: Option<SecretString>,
    pub clear_workflow_webhook_bearer_token: Option<bool>,
    pub rotate_workflow_webhook_signing_secret: Option<bool>,
    pub workflow_notify_on_warn_allow: Option<bool>,
}

/// Why a PUT is refused; nothing is written.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// 422 with every bad field.
    Invalid(Vec<FieldViolation>),
    /// 403: the tier does not include the feature.
    Tier { feature: &'static str, tier: Tier },
}

/// The outcome of a valid PUT: the merged record, what changed (names only),
/// and the webhook signing secret when this PUT created or rotated it.
pub struct Applied {
    pub settings: NotificationSettings,
    pub changed: Vec<String>,
    pub new_signing_secret: Option<SecretString>,
}

struct Checker {
    violations: Vec<FieldViolation>,
    policy: ssrf::Policy,
}

impl Checker {
    fn check(
        &mut self,
        field: &str,
        value: Option<&str>,
        rule: impl FnOnce(&str) -> Result<(), String>,
    ) {
        if let Some(Err(message)) = value.map(rule) {
            self.violations.push(FieldViolation::new(field, message));
        }
    }

    /// A tenant-supplied URL: the SSRF rules as far as the URL itself tells.
    fn url(&mut self, field: &str, value: Option<&str>, max: usize) {
        let policy = self.policy;
        self.check(field, value, |v| {
            validate::length(v, 1, max)?;
            ssrf::check_url(v, &policy)
                .map(drop)
                .map_err(|refusal| refusal.to_string())
        });
    }
}

fn flat(v: &Option<Option<String>>) -> Option<&str> {
    v.as_ref().and_then(|o| o.as_deref())
}

impl SettingsUpdate {
    /// Each field on its own (shape, vendor rules, URLs): what needs no
    /// stored record. A PUT is refused on these before its precondition.
    pub fn check(&self, policy: ssrf::Policy) -> Result<(), Rejection> {
        let mut c = Checker {
            violations: Vec::new(),
            policy,
        };
        c.check(
            "slack_channel_override",
            flat(&self.slack_channel_override),
            fields::slack_channel,
        );
        c.url("jira_base_url", flat(&self.jira_base_url), 255);
        c.check("jira_email", flat(&self.jira_email), validate::email);
        c.check(
            "jira_project_key",
            flat(&self.jira_project_key),
            fields::jira_project_key,
        );
        c.check(
            "jira_issue_type",
            self.jira_issue_type.as_deref(),
            fields::jira_issue_type,
        );
        c.check(
            "workflow_github_owner",
            flat(&self.workflow_github_owner),
            fields::github_owner,
        );
        c.check(
            "workflow_github_repo",
            flat(&self.workflow_github_repo),
            fields::github_repo,
        );
        c.check(
            "workflow_github_workflow_id",
            flat(&self.workflow_github_workflow_id),
            fields::github_workflow_id,
        );
        c.check(
            "workflow_github_ref",
            self.workflow_github_ref.as_deref(),
            fields::git_ref,
        );
        c.url(
            "workflow_gitlab_base_url",
            self.workflow_gitlab_base_url.as_deref(),
            255,
        );
        c.check(
            "workflow_gitlab_project_id",
            flat(&self.workflow_gitlab_project_id),
            fields::gitlab_project,
        );
        c.check(
            "workflow_gitlab_ref",
            self.workflow_gitlab_ref.as_deref(),
            fields::git_ref,
        );
        c.url(
            "workflow_webhook_url",
            flat(&self.workflow_webhook_url),
            1024,
        );

        for (field, value, clear) in &self.secret_changes() {
            if let Some(v) = value {
                if clear == &Some(true) {
                    c.violations.push(FieldViolation::new(
                        field.name(),
                        format!("provide {0} or clear_{0}: true, not both", field.name()),
                    ));
                } else if let Err(message) = fields::secret(v.expose_secret()) {
                    c.violations
                        .push(FieldViolation::new(field.name(), message));
                }
            }
        }
        if c.violations.is_empty() {
            Ok(())
        } else {
            Err(Rejection::Invalid(c.violations))
        }
    }

    /// Each secret's new value and clear flag.
    fn secret_changes(&self) -> [(SecretField, Option<SecretString>, Option<bool>); 4] {
        [
            (
                SecretField::JiraApiToken,
                self.jira_api_token.clone(),
                self.clear_jira_api_token,
            ),
            (
                SecretField::GithubToken,
                self.workflow_github_token.clone(),
                self.clear_workflow_github_token,
            ),
            (
                SecretField::GitlabTriggerToken,
                self.workflow_gitlab_trigger_token.clone(),
                self.clear_workflow_gitlab_trigger_token,
            ),
            (
                SecretField::WebhookBearerToken,
                self.workflow_webhook_bearer_token.clone(),
                self.clear_workflow_webhook_bearer_token,
            ),
        ]
    }
}

/// Check and merge `update` into `current` for a tenant on `tier`.
pub fn apply(
    current: &NotificationSettings,
    update: SettingsUpdate,
    tier: Tier,
    tenant_id: &str,
    keys: &SecretBox,
    policy: ssrf::Policy,
) -> Result<Applied, Rejection> {
    update.check(policy)?;
    let secret_changes = update.secret_changes();

    let mut next = current.clone();
    let mut changed = Vec::new();
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = update.$field {
                if next.$field != v {
                    changed.push(stringify!($field).to_owned());
                    next.$field = v;
                }
            }
        };
    }
    set!(slack_enabled);
    set!(slack_channel_override);
    set!(jira_enabled);
    set!(jira_base_url);
    set!(jira_email);
    set!(jira_project_key);
    set!(workflow_github_enabled);
    set!(workflow_github_owner);
    set!(workflow_github_repo);
    set!(workflow_github_workflow_id);
    set!(workflow_github_ref);
    set!(workflow_gitlab_enabled);
    set!(workflow_gitlab_base_url);
    set!(workflow_gitlab_project_id);
    set!(workflow_gitlab_ref);
    set!(workflow_webhook_enabled);
    set!(workflow_webhook_url);
    set!(workflow_notify_on_warn_allow);
    if let Some(t) = update.jira_issue_type.as_deref().map(str::trim)
        && next.jira_issue_type != t
    {
        changed.push("jira_issue_type".into());
        next.jira_issue_type = t.to_owned();
    }
    for (field, value, clear) in secret_changes {
        let name = field.name();
        if let Some(v) = value {
            next.secrets
                .insert(name.into(), keys.seal(tenant_id, name, &v));
            changed.push(name.into());
        } else if clear == Some(true) && next.secrets.remove(name).is_some() {
            changed.push(name.into());
        }
    }

    let gated_touched = changed
        .iter()
        .any(|f| f.starts_with("jira_") || f.starts_with("workflow_"));
    if tier < Tier::Pro && next.uses_gated_integrations() && gated_touched {
        return Err(Rejection::Tier {
            feature: "incident_integrations",
            tier,
        });
    }
    let missing = missing_fields(&next);
    if !missing.is_empty() {
        return Err(Rejection::Invalid(missing));
    }

    // A webhook target gets its own signing secret when it first exists, or on request.
    let signing = SecretField::WebhookSigningSecret;
    let wants_secret = next.workflow_webhook_url.is_some() && !next.has(signing);
    let new_signing_secret = (wants_secret
        || update.rotate_workflow_webhook_signing_secret == Some(true))
    .then(|| SecretString::from(crate::outbound::webhook_sig::generate_secret()));
    if let Some(s) = &new_signing_secret {
        next.secrets.insert(
            signing.name().into(),
            keys.seal(tenant_id, signing.name(), s),
        );
        changed.push(signing.name().into());
    }
    next.updated_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(Applied {
        settings: next,
        changed,
        new_signing_secret,
    })
}

/// Every required field an enabled integration lacks, named.
fn missing_fields(s: &NotificationSettings) -> Vec<FieldViolation> {
    let mut missing = Vec::new();
    let mut need = |enabled: bool, integration: &str, fields: &[(&str, bool)]| {
        if enabled {
            for (name, present) in fields {
                if !present {
                    missing.push(FieldViolation::new(
                        *name,
                        format!("required while {integration} is enabled"),
                    ));
                }
            }
        }
    };
    need(
        s.jira_enabled,
        "Jira",
        &[
            ("jira_base_url", s.jira_base_url.is_some()),
            ("jira_email", s.jira_email.is_some()),
            ("jira_project_key", s.jira_project_key.is_some()),
            ("jira_api_token", s.has(SecretField::JiraApiToken)),
        ],
    );
    need(
        s.workflow_github_enabled,
        "GitHub Actions",
        &[
            ("workflow_github_owner", s.workflow_github_owner.is_some()),
            ("workflow_github_repo", s.workflow_github_repo.is_some()),
            (
                "workflow_github_workflow_id",
                s.workflow_github_workflow_id.is_some(),
            ),
            ("workflow_github_token", s.has(SecretField::GithubToken)),
        ],
    );
    need(
        s.workflow_gitlab_enabled,
        "GitLab CI",
        &[
            (
                "workflow_gitlab_project_id",
                s.workflow_gitlab_project_id.is_some(),
            ),
            (
                "workflow_gitlab_trigger_token",
                s.has(SecretField::GitlabTriggerToken),
            ),
        ],
    );
    need(
        s.workflow_webhook_enabled,
        "the webhook",
        &[("workflow_webhook_url", s.workflow_webhook_url.is_some())],
    );
    missing
}
