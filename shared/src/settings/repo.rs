//! The settings record in the store: `TENANT#<id>` / `SETTINGS#notifications`,
//! versioned for optimistic concurrency, every save audited in its transaction.

use serde_json::json;

use super::{Applied, NotificationSettings, SecretField};
use crate::audit::{AuditError, AuditLog, NewEvent, tenant_pk};
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, Store, StoreError, WriteOp};
use crate::tenancy::ChangeContext;

pub const SETTINGS_SK: &str = "SETTINGS#notifications";

/// The tenant's settings and their version; defaults at version 0 when none
/// were ever saved. Reading never writes.
pub async fn load(
    store: &dyn Store,
    tenant_id: &str,
) -> Result<(NotificationSettings, u64), StoreError> {
    match store.get(&tenant_pk(tenant_id), SETTINGS_SK).await? {
        Some(item) => from_item(&item),
        None => Ok((NotificationSettings::default(), 0)),
    }
}

#[derive(Debug)]
pub enum Saved {
    Ok {
        version: u64,
    },
    /// Someone saved first: the version the caller read is stale.
    Stale,
}

/// Store `applied` if the stored version is still `read_version`, with an audit
/// event naming what changed (field names and flags, never values).
pub async fn save(
    audit: &AuditLog,
    tenant_id: &str,
    applied: &Applied,
    read_version: u64,
    ctx: &ChangeContext,
) -> Result<Saved, AuditError> {
    let settings = &applied.settings;
    let version = read_version + 1;
    let condition = if read_version == 0 {
        Condition::NotExists
    } else {
        Condition::VersionEquals(read_version)
    };
    let put = WriteOp::Put {
        item: to_item(&tenant_pk(tenant_id), SETTINGS_SK, version, settings),
        condition,
    };
    let flags: serde_json::Map<String, serde_json::Value> = SecretField::ALL
        .iter()
        .map(|f| (format!("has_{}", f.name()), json!(settings.has(*f))))
        .collect();
    let details = json!({
        "changed_fields": applied.changed,
        "slack_enabled": settings.slack_enabled,
        "jira_enabled": settings.jira_enabled,
        "workflow_github_enabled": settings.workflow_github_enabled,
        "workflow_gitlab_enabled": settings.workflow_gitlab_enabled,
        "workflow_webhook_enabled": settings.workflow_webhook_enabled,
        "flags": flags,
        "version": version,
    });
    let event = NewEvent {
        tenant_id: tenant_id.to_owned(),
        event_type: "settings.notifications_updated".into(),
        actor: ctx.actor.clone(),
        request_id: ctx.request_id.clone(),
        resource: Some("settings/notifications".into()),
        success: true,
        details,
    };
    match audit.append_with(event, vec![put]).await {
        Ok(_) => Ok(Saved::Ok { version }),
        Err(AuditError::Store(StoreError::TransactionConditionFailed { .. })) => Ok(Saved::Stale),
        Err(e) => Err(e),
    }
}
