//! Where memberships and tenants live in the store. The storage layout of
//! both is here and nowhere else.

use serde_json::Value;

use crate::store::{Store, StoreError};
use crate::tenancy::{Membership, Tenant};

/// `USER#<sub>` / `MEMBERSHIP`: tenant_id, role, email.
pub async fn get_membership(
    store: &dyn Store,
    user_id: &str,
) -> Result<Option<Membership>, StoreError> {
    let Some(mut item) = store.get(&format!("USER#{user_id}"), "MEMBERSHIP").await? else {
        return Ok(None);
    };
    // The key is the source of truth for whose membership this is.
    item.insert("user_id".into(), Value::String(user_id.to_owned()));
    serde_json::from_value(Value::Object(item))
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("membership of a user is malformed: {e}")))
}

/// `TENANT#<id>` / `META`: id, name, tier, created_at.
pub async fn get_tenant(store: &dyn Store, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
    let Some(item) = store.get(&format!("TENANT#{tenant_id}"), "META").await? else {
        return Ok(None);
    };
    let tenant: Tenant = serde_json::from_value(Value::Object(item))
        .map_err(|e| StoreError::Invalid(format!("tenant {tenant_id} META is malformed: {e}")))?;
    if tenant.id != tenant_id {
        return Err(StoreError::Invalid(format!(
            "tenant {tenant_id} META names another id"
        )));
    }
    Ok(Some(tenant))
}
