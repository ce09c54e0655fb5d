//! The evidence check of one channel, written once for every caller (the
//! acceptance-evidence capture, the daily passive run and the test calls):
//! the tier gate, the targets resolved from the tenant's settings, and each
//! target probed. Recording is the caller's: a capture records a run, a test
//! call one `notification.test` event.

use futures::future::join_all;

use super::CheckRecord;
use crate::config::RuntimeConfig;
use crate::crypto::SecretBox;
use crate::notify::{self, Channel, Integrations, NotConfigured, Target, TargetResult};
use crate::settings::NotificationSettings;
use crate::tenancy::Tier;

/// How a channel's targets are probed.
#[derive(Debug, Clone, Copy)]
pub enum Probe<'a> {
    /// A clearly labelled test event, carrying the run id.
    TestEvent { run_id: &'a str },
    /// A check that sends nothing visible (Slack `auth.test`, Jira `myself`,
    /// workflow targets: configuration and SSRF only).
    Passive,
}

/// What checks need: the contract (the Slack bot token), the keys that open
/// tenant secrets, the outbound client.
#[derive(Clone, Copy)]
pub struct Checker<'a> {
    pub config: &'a RuntimeConfig,
    pub keys: &'a SecretBox,
    pub integrations: &'a Integrations,
}

/// One channel of one tenant, checked.
pub enum ChannelCheck {
    /// The tenant's tier does not include the channel: nothing was tried.
    Gated { tier: Tier, feature: &'static str },
    /// The settings do not configure it: nothing was sent.
    NotConfigured(NotConfigured),
    /// Each target's answer, and the targets (whose secrets the record redacts).
    Ran {
        results: Vec<TargetResult>,
        targets: Vec<Target>,
    },
}

impl ChannelCheck {
    /// Secrets the targets carried, for the audit redactor.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Self::Ran { targets, .. } => targets.iter().flat_map(Target::secrets).collect(),
            _ => Vec::new(),
        }
    }

    /// The check as an evidence record of `channel`.
    pub fn record(&self, channel: Channel, probe: Probe<'_>, current: Tier) -> CheckRecord {
        let name = channel.as_str();
        match self {
            Self::Gated { tier, feature } => CheckRecord::skipped(
                name,
                format!(
                    "feature '{feature}' needs the {} tier (current: {})",
                    tier.as_str(),
                    current.as_str()
                ),
            ),
            Self::NotConfigured(missing) => CheckRecord::skipped(name, missing.to_string()),
            Self::Ran { results, .. } => {
                let word = match probe {
                    Probe::TestEvent { .. } => "succeeded",
                    Probe::Passive => "healthy (passive check)",
                };
                CheckRecord::from_results(name, results, word)
            }
        }
    }
}

impl Checker<'_> {
    /// Check `channel` of `tenant_id` (on `tier`, with `settings`) by `probe`.
    pub async fn check(
        &self,
        tenant_id: &str,
        tier: Tier,
        settings: &NotificationSettings,
        channel: Channel,
        probe: Probe<'_>,
    ) -> ChannelCheck {
        if let Some((needed, feature)) = channel.required_tier()
            && tier < needed
        {
            return ChannelCheck::Gated {
                tier: needed,
                feature,
            };
        }
        let targets = match notify::resolve(channel, settings, self.config, self.keys, tenant_id) {
            Ok(targets) => targets,
            Err(missing) => return ChannelCheck::NotConfigured(missing),
        };
        let results = match probe {
            Probe::TestEvent { run_id } => {
                let event = notify::test_notification(channel, tenant_id, run_id);
                notify::send(self.integrations, &targets, &event).await
            }
            Probe::Passive => {
                join_all(
                    targets
                        .iter()
                        .map(|t| notify::passive_check(self.integrations, t)),
                )
                .await
            }
        };
        ChannelCheck::Ran { results, targets }
    }
}
