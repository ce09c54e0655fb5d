//! Tenant and membership records in the store, every change audited in the
//! same transaction.
//!
//! Layout: `TENANT#<id>` / `META` holds the tenant; `USER#<sub>` / `MEMBERSHIP`
//! maps a user to their one tenant.

use serde_json::json;

use super::{Membership, Role, Tenant, Tier};
use crate::audit::{Actor, AuditError, AuditLog, NewEvent, tenant_pk};
use crate::store::codec::{from_item, to_item};
use crate::store::{Condition, Store, StoreError, WriteOp};

const META_SK: &str = "META";
/// The synthetic tenant the post-deploy hook and `valdrix smoke` read as.
pub const SMOKE_TENANT_ID: &str = "valdrix-smoke";
pub const SMOKE_USER_ID: &str = "valdrix-smoke-bot";
const MEMBERSHIP_SK: &str = "MEMBERSHIP";
/// One item per tenant (sk = tenant id), for jobs that visit every tenant.
const DIRECTORY_PK: &str = "TENANTS";

fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// Who asked for a change, for its audit event.
#[derive(Debug, Clone)]
pub struct ChangeContext {
    pub actor: Actor,
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(AuditError),
}

impl From<AuditError> for TenancyError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Store(s) => Self::Store(s),
            other => Self::Audit(other),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> TenancyError {
    TenancyError::Invalid {
        field,
        message: message.into(),
    }
}

/// Tenant ids: see [`crate::validate::tenant_id`].
pub fn check_tenant_id(id: &str) -> Result<(), TenancyError> {
    crate::validate::tenant_id(id).map_err(|m| invalid("id", m))
}

fn check_user_id(user_id: &str) -> Result<(), TenancyError> {
    crate::validate::text(user_id, 1, 128).map_err(|m| invalid("user_id", m))
}

fn check_email(email: &str) -> Result<(), TenancyError> {
    crate::validate::email(email).map_err(|m| invalid("email", m))
}

pub fn parse_tier(raw: &str) -> Result<Tier, TenancyError> {
    raw.parse().map_err(|m: String| invalid("tier", m))
}

pub fn parse_role(raw: &str) -> Result<Role, TenancyError> {
    raw.parse().map_err(|m: String| invalid("role", m))
}

pub async fn get_tenant(store: &dyn Store, id: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(get_tenant_versioned(store, id).await?.map(|(t, _)| t))
}

async fn get_tenant_versioned(
    store: &dyn Store,
    id: &str,
) -> Result<Option<(Tenant, u64)>, StoreError> {
    let Some(item) = store.get(&tenant_pk(id), META_SK).await? else {
        return Ok(None);
    };
    let (tenant, version): (Tenant, u64) = from_item(&item)?;
    // A META item naming another tenant is corrupt, never silently used.
    if tenant.id != id {
        return Err(StoreError::Invalid(format!(
            "tenant {id} META names another id"
        )));
    }
    Ok(Some((tenant, version)))
}

pub async fn get_membership(
    store: &dyn Store,
    user_id: &str,
) -> Result<Option<Membership>, StoreError> {
    Ok(get_membership_versioned(store, user_id)
        .await?
        .map(|(m, _)| m))
}

async fn get_membership_versioned(
    store: &dyn Store,
    user_id: &str,
) -> Result<Option<(Membership, u64)>, StoreError> {
    let Some(mut item) = store.get(&user_pk(user_id), MEMBERSHIP_SK).await? else {
        return Ok(None);
    };
    // The key is the source of truth for whose membership this is.
    item.insert("user_id".into(), user_id.into());
    Ok(Some(from_item(&item)?))
}

fn event(
    tenant_id: &str,
    event_type: &str,
    resource: String,
    ctx: &ChangeContext,
    details: serde_json::Value,
) -> NewEvent {
    NewEvent {
        tenant_id: tenant_id.to_owned(),
        event_type: event_type.to_owned(),
        actor: ctx.actor.clone(),
        request_id: ctx.request_id.clone(),
        resource: Some(resource),
        success: true,
        details,
    }
}

/// Create a tenant; an id is generated when none is given.
pub async fn create_tenant(
    audit: &AuditLog,
    id: Option<String>,
    name: &str,
    tier: Tier,
    ctx: &ChangeContext,
) -> Result<Tenant, TenancyError> {
    let id = match id {
        Some(id) => {
            check_tenant_id(&id)?;
            id
        }
        None => format!("t-{}", uuid::Uuid::new_v4().simple()),
    };
    crate::validate::text(name, 1, 200).map_err(|m| invalid("name", m))?;
    let name = name.trim();
    let tenant = Tenant {
        id: id.clone(),
        name: name.to_owned(),
        tier,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let ops = vec![
        WriteOp::Put {
            item: to_item(&tenant_pk(&id), META_SK, 1, &tenant),
            condition: Condition::NotExists,
        },
        // The directory entry lets jobs that visit every tenant page through them.
        WriteOp::Put {
            item: to_item(DIRECTORY_PK, &id, 1, &json!({"tenant_id": id})),
            condition: Condition::NotExists,
        },
    ];
    let details = json!({"name": tenant.name, "tier": tier});
    match audit
        .append_with(
            event(&id, "tenant.created", format!("tenant/{id}"), ctx, details),
            ops,
        )
        .await
    {
        Ok(_) => Ok(tenant),
        Err(AuditError::Store(StoreError::TransactionConditionFailed { .. })) => Err(
            TenancyError::Conflict(format!("tenant {id} already exists")),
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn set_tier(
    store: &dyn Store,
    audit: &AuditLog,
    id: &str,
    tier: Tier,
    ctx: &ChangeContext,
) -> Result<Tenant, TenancyError> {
    let (mut tenant, version) = get_tenant_versioned(store, id)
        .await?
        .ok_or_else(|| TenancyError::NotFound(format!("tenant {id}")))?;
    let old = tenant.tier;
    tenant.tier = tier;
    let put = WriteOp::Put {
        item: to_item(&tenant_pk(id), META_SK, version + 1, &tenant),
        condition: Condition::VersionEquals(version),
    };
    let details = json!({"from": old, "to": tier});
    audit
        .append_with(
            event(
                id,
                "tenant.tier_changed",
                format!("tenant/{id}"),
                ctx,
                details,
            ),
            vec![put],
        )
        .await
        .map_err(conflict_on_race)?;
    Ok(tenant)
}

/// Add a user to a tenant or change their role or email. A user belongs to one
/// tenant: moving them to another is refused.
pub async fn put_member(
    store: &dyn Store,
    audit: &AuditLog,
    tenant_id: &str,
    user_id: &str,
    role: Role,
    email: &str,
    ctx: &ChangeContext,
) -> Result<Membership, TenancyError> {
    check_user_id(user_id)?;
    check_email(email)?;
    if get_tenant(store, tenant_id).await?.is_none() {
        return Err(TenancyError::NotFound(format!("tenant {tenant_id}")));
    }
    let existing = get_membership_versioned(store, user_id).await?;
    if let Some((m, _)) = &existing
        && m.tenant_id != tenant_id
    {
        return Err(TenancyError::Conflict(format!(
            "user {user_id} already belongs to another tenant; remove them there first"
        )));
    }
    let membership = Membership {
        user_id: user_id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        role,
        email: email.to_owned(),
    };
    let (version, condition) = match &existing {
        Some((_, v)) => (v + 1, Condition::VersionEquals(*v)),
        None => (1, Condition::NotExists),
    };
    let ops = vec![
        WriteOp::Put {
            item: to_item(&user_pk(user_id), MEMBERSHIP_SK, version, &membership),
            condition,
        },
        // The tenant must still exist when the membership lands.
        WriteOp::Check {
            pk: tenant_pk(tenant_id),
            sk: META_SK.into(),
            condition: Condition::Exists,
        },
    ];
    let details = json!({
        "user_id": user_id,
        "role": role,
        "previous_role": existing.as_ref().map(|(m, _)| m.role),
    });
    let kind = if existing.is_some() {
        "member.updated"
    } else {
        "member.added"
    };
    audit
        .append_with(
            event(tenant_id, kind, format!("member/{user_id}"), ctx, details),
            ops,
        )
        .await
        .map_err(conflict_on_race)?;
    Ok(membership)
}

pub async fn remove_member(
    store: &dyn Store,
    audit: &AuditLog,
    tenant_id: &str,
    user_id: &str,
    ctx: &ChangeContext,
) -> Result<(), TenancyError> {
    let not_found = || TenancyError::NotFound(format!("member {user_id} of tenant {tenant_id}"));
    let (membership, version) = get_membership_versioned(store, user_id)
        .await?
        .filter(|(m, _)| m.tenant_id == tenant_id)
        .ok_or_else(not_found)?;
    let delete = WriteOp::Delete {
        pk: user_pk(user_id),
        sk: MEMBERSHIP_SK.into(),
        condition: Condition::VersionEquals(version),
    };
    let details = json!({"user_id": user_id, "role": membership.role});
    audit
        .append_with(
            event(
                tenant_id,
                "member.removed",
                format!("member/{user_id}"),
                ctx,
                details,
            ),
            vec![delete],
        )
        .await
        .map_err(conflict_on_race)?;
    Ok(())
}

/// A record changed between our read and our write.
fn conflict_on_race(e: AuditError) -> TenancyError {
    match e {
        AuditError::Store(StoreError::TransactionConditionFailed { pk, sk, .. }) => {
            TenancyError::Conflict(format!("{pk}/{sk} changed concurrently; retry"))
        }
        other => other.into(),
    }
}

/// One page of tenant ids, in id order, for jobs that visit every tenant.
pub async fn list_tenant_ids(
    store: &dyn Store,
    limit: u32,
    cursor: Option<crate::store::Cursor>,
) -> Result<(Vec<String>, Option<crate::store::Cursor>), StoreError> {
    let mut query = crate::store::Query::new(DIRECTORY_PK, crate::store::SortKey::All);
    query.limit = limit;
    query.cursor = cursor;
    let page = store.query(query).await?;
    let ids = page
        .items
        .iter()
        .filter_map(|item| {
            item.get("sk")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    Ok((ids, page.next_cursor))
}
