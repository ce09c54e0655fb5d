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
        apply_with_retries(id, store, audit)
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

/// Attempts per step. A step is idempotent, so a transient store failure
/// (a timed-out attempt whose SDK retry the store refused, a conflict) is
/// safely met by running the whole step again.
const STEP_ATTEMPTS: u32 = 3;

async fn apply_with_retries(
    id: &str,
    store: &DynStore,
    audit: &AuditLog,
) -> Result<(), TenancyError> {
    let mut attempt = 1;
    loop {
        match apply(id, store, audit).await {
            Err(TenancyError::Store(
                StoreError::Unavailable(_) | StoreError::TransactionConflict,
            )) if attempt < STEP_ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(250 * u64::from(attempt)))
                    .await;
                attempt += 1;
            }
            done => return done,
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use valdrix_shared::audit::Redactor;
    use valdrix_shared::store::{Page, Query, Store, WriteOp};

    use super::*;

    /// Fails the first `failures` transactions the way a timed-out attempt
    /// whose retry the store refused does; everything else reaches SQLite.
    struct FailingTransacts {
        inner: DynStore,
        failures: AtomicU32,
    }

    #[async_trait]
    impl Store for FailingTransacts {
        async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
            self.inner.get(pk, sk).await
        }
        async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
            self.inner.put(item, condition).await
        }
        async fn delete(&self, pk: &str, sk: &str, c: Condition) -> Result<(), StoreError> {
            self.inner.delete(pk, sk, c).await
        }
        async fn query(&self, query: Query) -> Result<Page, StoreError> {
            self.inner.query(query).await
        }
        async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
            let left = self.failures.load(Ordering::SeqCst);
            if left > 0 {
                self.failures.store(left - 1, Ordering::SeqCst);
                return Err(StoreError::Unavailable(
                    "dynamodb transact: IdempotentParameterMismatchException".into(),
                ));
            }
            self.inner.transact(ops).await
        }
        async fn batch_get(
            &self,
            k: Vec<(String, String)>,
        ) -> Result<Vec<Option<Item>>, StoreError> {
            self.inner.batch_get(k).await
        }
        async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
            self.inner.batch_put(items).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
        async fn ensure_table(&self) -> Result<bool, StoreError> {
            self.inner.ensure_table().await
        }
    }

    async fn migrate_with(
        failures: u32,
    ) -> (Result<Vec<String>, MigrateError>, Arc<FailingTransacts>) {
        let failing = Arc::new(FailingTransacts {
            inner: valdrix_tests::shared_sqlite_store().await,
            failures: AtomicU32::new(failures),
        });
        let store: DynStore = failing.clone();
        let audit = AuditLog::new(store.clone(), Redactor::default());
        let url = StoreUrl::Sqlite {
            path: ":memory:".into(),
        };
        (run(&store, &url, &audit).await, failing)
    }

    #[tokio::test]
    async fn a_transient_store_failure_reruns_the_step() {
        // Two refusals: the create_tenant step runs three times.
        let (report, store) = migrate_with(2).await;
        let report = report.expect("migrate recovers");
        assert!(report.iter().any(|l| l.contains("1 applied")), "{report:?}");
        let tenant = tenancy::get_tenant(&*store.inner, SMOKE_TENANT_ID).await;
        assert!(tenant.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_lasting_store_failure_fails_the_step_after_its_attempts() {
        let (report, store) = migrate_with(100).await;
        let err = report.expect_err("the store never recovers").to_string();
        // One refusal per attempt of the step: no more, and no fewer.
        assert_eq!(100 - store.failures.load(Ordering::SeqCst), STEP_ATTEMPTS);
        assert!(err.contains("0001-smoke-tenant"), "{err}");
        let sk = "MIGRATION#0001-smoke-tenant";
        assert!(store.inner.get(MIGRATION_PK, sk).await.unwrap().is_none());
    }
}
