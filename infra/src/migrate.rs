//! `valdrix migrate`: create the table where it is missing (emulator and
//! embedded store; in AWS the table comes from template.yaml) and apply the
//! ordered data migrations, each recorded in the table so a second run changes
//! nothing.

use serde_json::json;
use valdrix_shared::audit::{Actor, AuditLog};
use valdrix_shared::config::StoreUrl;
use valdrix_shared::store::{Condition, DynStore, Item, StoreError};
use valdrix_shared::tenancy::{
    self, ChangeContext, Role, SMOKE_TENANT_ID, SMOKE_USER_ID, TenancyError, Tier,
};

/// Data migrations in the order they apply. Never reorder or remove one.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001-smoke-tenant",
    "create the synthetic tenant and user the post-deploy hook reads as",
)];

const MIGRATION_PK: &str = "SYSTEM#MIGRATIONS";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("migration {0} failed: {1}")]
    Step(&'static str, TenancyError),
}

/// What one run did, one line per step, for the operator.
pub async fn run(
    store: &DynStore,
    url: &StoreUrl,
    audit: &AuditLog,
) -> Result<Vec<String>, MigrateError> {
    let mut report = Vec::new();
    report.push(match url {
        StoreUrl::DynamoDb {
            table,
            endpoint: None,
            ..
        } => {
            format!("table {table}: managed by template.yaml (not created here)")
        }
        StoreUrl::DynamoDb { table, .. } => table_line(table, store.ensure_table().await?),
        StoreUrl::Sqlite { path } => table_line(path, store.ensure_table().await?),
    });
    let (mut applied, mut skipped) = (0, 0);
    for (id, description) in MIGRATIONS {
        let sk = format!("MIGRATION#{id}");
        if store.get(MIGRATION_PK, &sk).await?.is_some() {
            skipped += 1;
            report.push(format!("migration {id}: already applied"));
            continue;
        }
        apply(id, store, audit)
            .await
            .map_err(|e| MigrateError::Step(id, e))?;
        let record = json!({
            "pk": MIGRATION_PK,
            "sk": sk,
            "description": description,
            "applied_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        let Some(item) = record.as_object().cloned() else {
            unreachable!()
        };
        match store.put(item as Item, Condition::NotExists).await {
            // A concurrent migrate recorded it first; the step itself is idempotent.
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        applied += 1;
        report.push(format!("migration {id}: applied ({description})"));
    }
    report.push(format!(
        "migrate: {applied} applied, {skipped} already applied"
    ));
    Ok(report)
}

fn table_line(name: &str, created: bool) -> String {
    if created {
        format!("table {name}: created (TTL on `ttl`)")
    } else {
        format!("table {name}: exists")
    }
}

/// Each step tolerates having run before (an interrupted migrate is re-run).
async fn apply(id: &str, store: &DynStore, audit: &AuditLog) -> Result<(), TenancyError> {
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    match id {
        "0001-smoke-tenant" => {
            match tenancy::create_tenant(
                audit,
                Some(SMOKE_TENANT_ID.into()),
                "Valdrix smoke checks",
                Tier::Enterprise,
                &ctx,
            )
            .await
            {
                Ok(_) | Err(TenancyError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
            tenancy::put_member(
                store.as_ref(),
                audit,
                SMOKE_TENANT_ID,
                SMOKE_USER_ID,
                Role::Owner,
                "smoke@valdrix.invalid",
                &ctx,
            )
            .await
            .map(drop)
        }
        other => unreachable!("unknown migration {other}"),
    }
}
