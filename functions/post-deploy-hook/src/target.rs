//! Which checks fit which function. The template names every deployed
//! function in `VALDRIX_HOOK_TARGETS` (a JSON object: function name ->
//! target), since CloudFormation generates the names.

use std::collections::BTreeMap;

use serde::Deserialize;

pub const TARGETS_VAR: &str = "VALDRIX_HOOK_TARGETS";

/// A deployed function, by the checks it gets: its routes, or its event path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    Health,
    Admin,
    NotificationSettings,
    NotificationTest,
    Evidence,
    PolicyEvents,
    ComplianceExport,
    CompliancePackWorker,
    EvidenceDaily,
    NotificationDispatcher,
    CostIngest,
}

impl Target {
    pub const ALL: [Target; 11] = [
        Self::Health,
        Self::Admin,
        Self::NotificationSettings,
        Self::NotificationTest,
        Self::Evidence,
        Self::PolicyEvents,
        Self::ComplianceExport,
        Self::CompliancePackWorker,
        Self::EvidenceDaily,
        Self::NotificationDispatcher,
        Self::CostIngest,
    ];

    /// The crate name, as in the template's map.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Admin => "admin",
            Self::NotificationSettings => "notification-settings",
            Self::NotificationTest => "notification-test",
            Self::Evidence => "evidence",
            Self::PolicyEvents => "policy-events",
            Self::ComplianceExport => "compliance-export",
            Self::CompliancePackWorker => "compliance-pack-worker",
            Self::EvidenceDaily => "evidence-daily",
            Self::NotificationDispatcher => "notification-dispatcher",
            Self::CostIngest => "cost-ingest",
        }
    }

    /// Functions triggered by events, not routes: checked by invoking them.
    pub fn is_event_function(self) -> bool {
        matches!(
            self,
            Self::EvidenceDaily
                | Self::NotificationDispatcher
                | Self::CostIngest
                | Self::CompliancePackWorker
        )
    }
}

/// Function name -> target, from the template's JSON.
#[derive(Debug, Clone, Default)]
pub struct Targets(pub BTreeMap<String, Target>);

impl Targets {
    pub fn parse(json: Option<&str>) -> Result<Self, String> {
        let text = json.ok_or_else(|| format!("{TARGETS_VAR} is not set"))?;
        serde_json::from_str(text).map(Self).map_err(|e| {
            format!("{TARGETS_VAR} is not a JSON object of function names to targets: {e}")
        })
    }

    pub fn target_of(&self, function: &str) -> Option<Target> {
        self.0.get(function).copied()
    }

    /// The function deployed as `target`.
    pub fn function_of(&self, target: Target) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, t)| **t == target)
            .map(|(name, _)| name.as_str())
    }
}
