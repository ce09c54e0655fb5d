//! Re-sealing every tenant's integration secrets under the current key, after
//! `ENCRYPTION_KEY` changed and the old one moved to `ENCRYPTION_KEY_FALLBACKS`.

use serde::Serialize;
use serde_json::json;

use super::{NotificationSettings, SETTINGS_SK};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent, tenant_pk};
use crate::crypto::SecretBox;
use crate::store::codec::to_item;
use crate::store::{Condition, Store, WriteOp};
use crate::tenancy::list_tenant_ids;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    pub tenants: u64,
    pub secrets_resealed: u64,
    pub secrets_current: u64,
    /// Tenants whose secrets could not be opened with any configured key.
    pub tenants_failed: Vec<String>,
}

pub async fn rotate_all(
    store: &dyn Store,
    audit: &AuditLog,
    keys: &SecretBox,
) -> Result<RotationReport, AuditError> {
    let mut report = RotationReport::default();
    let mut cursor = None;
    loop {
        let (ids, next) = list_tenant_ids(store, 100, cursor).await?;
        for id in ids {
            report.tenants += 1;
            if let Err(why) = rotate_tenant(store, audit, keys, &id, &mut report).await {
                tracing::error!(tenant_id = %id, error = %why, "secret rotation failed for tenant");
                report.tenants_failed.push(id);
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(report),
        }
    }
}

async fn rotate_tenant(
    store: &dyn Store,
    audit: &AuditLog,
    keys: &SecretBox,
    tenant_id: &str,
    report: &mut RotationReport,
) -> Result<(), String> {
    let (mut settings, version): (NotificationSettings, u64) = super::load(store, tenant_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut resealed = Vec::new();
    for (field, sealed) in settings.secrets.iter_mut() {
        if !keys.needs_rotation(sealed) {
            report.secrets_current += 1;
            continue;
        }
        let plain = keys
            .open(tenant_id, field, sealed)
            .map_err(|e| format!("{field}: {e}"))?;
        *sealed = keys.seal(tenant_id, field, &plain);
        resealed.push(field.clone());
    }
    if resealed.is_empty() {
        return Ok(());
    }
    let put = WriteOp::Put {
        item: to_item(&tenant_pk(tenant_id), SETTINGS_SK, version + 1, &settings),
        condition: Condition::VersionEquals(version),
    };
    let event = NewEvent {
        tenant_id: tenant_id.to_owned(),
        event_type: "settings.secrets_rotated".into(),
        actor: Actor::System,
        request_id: None,
        resource: Some("settings/notifications".into()),
        success: true,
        details: json!({"fields": resealed, "key_id": keys.current_key_id()}),
    };
    audit
        .append_with(event, vec![put])
        .await
        .map_err(|e| e.to_string())?;
    report.secrets_resealed += resealed.len() as u64;
    Ok(())
}
