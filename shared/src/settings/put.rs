//! A PUT of notification settings, whole: read, check the caller's
//! precondition, merge and check ([`apply`]), save with its audit event. The
//! one home of that use case.
//!
//! Without a precondition the caller asked for "these fields, on whatever is
//! there": a concurrent save is not their conflict, so the read-merge-save is
//! retried (bounded, jittered). With one, a stale version is the caller's to
//! resolve: `If-Match` fails as HTTP's 412, a body `version` as 409.

use std::time::Duration;

use secrecy::SecretString;

use super::{NotificationSettings, Saved, SettingsUpdate, apply, load, save};
use crate::audit::{AuditError, AuditLog};
use crate::crypto::SecretBox;
use crate::outbound::ssrf;
use crate::store::StoreError;
use crate::tenancy::{ChangeContext, Tier};

/// Saves tried before an unconditional PUT gives up on a busy record.
const ATTEMPTS: u32 = 12;

/// The version the caller read, and how they said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-Match: "<version>"`.
    IfMatch(u64),
    /// The body's `version` field.
    BodyVersion(u64),
}

/// Who changes which tenant's settings, and with what.
pub struct UpdateContext<'a> {
    pub tenant_id: &'a str,
    pub tier: Tier,
    pub keys: &'a SecretBox,
    pub policy: ssrf::Policy,
    pub change: &'a ChangeContext,
}

pub struct Updated {
    pub settings: NotificationSettings,
    pub version: u64,
    /// Set when this PUT created or rotated the webhook signing secret.
    pub new_signing_secret: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("settings refused")]
    Rejected(super::Rejection),
    #[error("If-Match names version {expected}; the settings are at {current}")]
    PreconditionFailed { expected: u64, current: u64 },
    #[error("version {expected} is stale; the settings are at {current}")]
    Stale { expected: u64, current: u64 },
    #[error("the settings kept changing concurrently")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

pub async fn update(
    audit: &AuditLog,
    ctx: &UpdateContext<'_>,
    body: SettingsUpdate,
    precondition: Precondition,
) -> Result<Updated, UpdateError> {
    // Bad input is a 422 whatever the version: checked before the precondition.
    body.check(ctx.policy).map_err(UpdateError::Rejected)?;
    for attempt in 1..=ATTEMPTS {
        let (current, version) = load(audit.store(), ctx.tenant_id).await?;
        let stale = |expected: u64| match precondition {
            Precondition::IfMatch(_) => UpdateError::PreconditionFailed {
                expected,
                current: version,
            },
            _ => UpdateError::Stale {
                expected,
                current: version,
            },
        };
        let expected = match precondition {
            Precondition::None => None,
            Precondition::IfMatch(v) | Precondition::BodyVersion(v) => Some(v),
        };
        if let Some(expected) = expected.filter(|e| *e != version) {
            return Err(stale(expected));
        }
        let applied = apply(
            &current,
            body.clone(),
            ctx.tier,
            ctx.tenant_id,
            ctx.keys,
            ctx.policy,
        )
        .map_err(UpdateError::Rejected)?;
        match save(audit, ctx.tenant_id, &applied, version, ctx.change).await? {
            Saved::Ok { version } => {
                return Ok(Updated {
                    settings: applied.settings,
                    version,
                    new_signing_secret: applied.new_signing_secret,
                });
            }
            Saved::Stale if expected.is_some() => {
                // The version the caller named was current when read, and
                // another save took it first: theirs is stale now.
                return Err(stale(version));
            }
            Saved::Stale => tokio::time::sleep(backoff(attempt)).await,
        }
    }
    Err(UpdateError::Busy)
}

/// 5..~80 ms, growing with the attempt, jittered so racers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 5 * u64::from(attempt.min(8));
    Duration::from_millis(base + rand::random_range(0..=base))
}
