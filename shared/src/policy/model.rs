//! A policy decision as the policy engine reports it, validated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::outbound::ssrf;
use crate::validate::{self, FieldViolation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Block,
    Escalate,
    Warn,
    Allow,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Escalate => "escalate",
            Self::Warn => "warn",
            Self::Allow => "allow",
        }
    }

    /// Block and escalate reach every channel; warn and allow only opted-in workflows.
    pub fn is_alert(self) -> bool {
        matches!(self, Self::Block | Self::Escalate)
    }
}

/// The request body of `POST /api/v1/policy/events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEventInput {
    pub event_id: String,
    pub tenant_id: String,
    pub decision: String,
    pub action: String,
    pub resource_id: String,
    pub resource_type: Option<String>,
    pub summary: String,
    pub request_id: Option<String>,
    pub severity: Option<String>,
    pub evidence_links: Option<BTreeMap<String, String>>,
}

/// A validated event, as stored and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEvent {
    pub event_id: String,
    pub tenant_id: String,
    pub decision: Decision,
    pub action: String,
    pub resource_id: String,
    pub resource_type: Option<String>,
    pub summary: String,
    pub request_id: Option<String>,
    pub severity: Option<String>,
    pub evidence_links: BTreeMap<String, String>,
}

const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

impl PolicyEventInput {
    pub fn validate(self) -> Result<PolicyEvent, Vec<FieldViolation>> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldViolation::new(field, message));
            }
        };
        check(
            "event_id",
            validate::length(&self.event_id, 1, 128).and_then(|()| {
                validate::charset(
                    &self.event_id,
                    "-_.:",
                    "letters, digits, '-', '_', '.' or ':'",
                )
            }),
        );
        check("tenant_id", validate::tenant_id(&self.tenant_id));
        let decision = match self.decision.as_str() {
            "block" => Some(Decision::Block),
            "escalate" => Some(Decision::Escalate),
            "warn" => Some(Decision::Warn),
            "allow" => Some(Decision::Allow),
            _ => None,
        };
        if decision.is_none() {
            check(
                "decision",
                Err("must be one of block, escalate, warn, allow".into()),
            );
        }
        check("action", validate::text(&self.action, 1, 200));
        check("resource_id", validate::text(&self.resource_id, 1, 512));
        if let Some(t) = &self.resource_type {
            check("resource_type", validate::text(t, 1, 128));
        }
        check("summary", validate::lines(&self.summary, 1, 2000));
        if let Some(r) = &self.request_id {
            check(
                "request_id",
                validate::length(r, 1, 128).and_then(|()| {
                    validate::visible(r)
                        .then_some(())
                        .ok_or_else(|| "must not contain spaces or control characters".into())
                }),
            );
        }
        if let Some(s) = &self.severity
            && !SEVERITIES.contains(&s.as_str())
        {
            check(
                "severity",
                Err(format!("must be one of {}", SEVERITIES.join(", "))),
            );
        }
        let links = self.evidence_links.unwrap_or_default();
        if links.len() > 10 {
            check("evidence_links", Err("at most 10 links".into()));
        }
        for (name, url) in &links {
            let field = format!("evidence_links.{name}");
            check(&field, validate::text(name, 1, 64));
            check(
                &field,
                validate::length(url, 1, 1024).and_then(|()| {
                    ssrf::check_url(url, &ssrf::Policy::default())
                        .map(drop)
                        .map_err(|r| format!("must be a public https URL ({r})"))
                }),
            );
        }
        match decision {
            Some(decision) if errors.is_empty() => Ok(PolicyEvent {
                event_id: self.event_id,
                tenant_id: self.tenant_id,
                decision,
                action: self.action.trim().to_owned(),
                resource_id: self.resource_id.trim().to_owned(),
                resource_type: self.resource_type,
                summary: self.summary.trim().to_owned(),
                request_id: self.request_id,
                severity: self.severity,
                evidence_links: links,
            }),
            _ => Err(errors),
        }
    }
}

impl PolicyEvent {
    /// Identifies the content, so a replay with the same id can be told from a
    /// different event reusing it.
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("event serializes");
        hex::encode(Sha256::digest(canonical))
    }
}
