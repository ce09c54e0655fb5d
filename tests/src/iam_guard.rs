//! The store and the AWS clients a function's own tests use refuse any call
//! its IAM table (`functions/<crate>/iam.txt`, held equal to template.yaml
//! by infra/tests/iam.rs) does not allow: a function that gains a store or
//! client call fails its tests until the table, and so the template, allow
//! it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;
use valdrix_shared::store::{Condition, DynStore, Item, Page, Query, Store, StoreError, WriteOp};

/// The IAM actions in `iam.txt` text: the first word of each line that is
/// not blank or a `#` comment.
pub fn parse_table(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The table of the crate whose tests are running (cargo sets
/// CARGO_MANIFEST_DIR for them), when that crate has one.
fn running_crate_table() -> Option<(PathBuf, BTreeSet<String>)> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let path = dir.join("iam.txt");
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, parse_table(&text)))
}

/// `store` guarded by the running crate's table; unchanged elsewhere.
pub fn guard(store: DynStore) -> DynStore {
    match running_crate_table() {
        Some((path, allowed)) => Arc::new(Guarded {
            inner: store,
            path,
            allowed,
        }),
        None => store,
    }
}

struct Guarded {
    inner: DynStore,
    path: PathBuf,
    allowed: BTreeSet<String>,
}

tokio::task_local! {
    /// Set while a test seeds what another function writes.
    static ANOTHER_FUNCTION: ();
}

/// Runs `setup` as another function would: data a test needs that the
/// function under test never writes itself (the ledger is cost-ingest's), so
/// the running crate's table does not apply to it.
pub async fn as_another_function<F: std::future::Future>(setup: F) -> F::Output {
    ANOTHER_FUNCTION.scope((), setup).await
}

impl Guarded {
    fn need(&self, action: &str) {
        if ANOTHER_FUNCTION.try_with(|_| ()).is_ok() {
            return;
        }
        assert!(
            self.allowed.contains(action),
            "{} does not allow {action}, which this store call needs: add it there and to the \
             function's policy in template.yaml (infra/tests/iam.rs compares them)",
            self.path.display()
        );
    }
}

const GET: &str = "dynamodb:GetItem";
const PUT: &str = "dynamodb:PutItem";
const DELETE: &str = "dynamodb:DeleteItem";
const QUERY: &str = "dynamodb:Query";
const CHECK: &str = "dynamodb:ConditionCheckItem";

#[async_trait]
impl Store for Guarded {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.need(GET);
        self.inner.get(pk, sk).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.need(PUT);
        self.inner.put(item, condition).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        self.need(DELETE);
        self.inner.delete(pk, sk, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.need(QUERY);
        self.inner.query(query).await
    }

    // DynamoDB authorises each operation of a transaction as its own action.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        for op in &ops {
            self.need(match op {
                WriteOp::Put { .. } => PUT,
                WriteOp::Delete { .. } => DELETE,
                WriteOp::Check { .. } => CHECK,
            });
        }
        self.inner.transact(ops).await
    }

    async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        self.need("dynamodb:BatchGetItem");
        self.inner.batch_get(keys).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.need("dynamodb:BatchWriteItem");
        self.inner.batch_put(items).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.need(GET);
        self.inner.ping().await
    }

    async fn ensure_table(&self) -> Result<bool, StoreError> {
        self.need("dynamodb:CreateTable");
        self.inner.ensure_table().await
    }
}

/// An AWS SDK interceptor for a client under test (`.interceptor(sdk_guard())`
/// on its config): each operation must be in the running crate's table.
/// Outside a function crate it allows everything.
pub fn sdk_guard() -> SdkGuard {
    SdkGuard(running_crate_table())
}

#[derive(Debug)]
pub struct SdkGuard(Option<(PathBuf, BTreeSet<String>)>);

/// The IAM action an SDK operation needs: its own name, except where IAM
/// names it otherwise.
pub fn iam_action(service: &str, operation: &str) -> String {
    let prefix = service.to_ascii_lowercase();
    let action = match (prefix.as_str(), operation) {
        ("lambda", "Invoke") => "InvokeFunction",
        ("s3", "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload") => "PutObject",
        ("s3", "HeadObject") => "GetObject",
        (_, op) => op,
    };
    format!("{prefix}:{action}")
}

impl Intercept for SdkGuard {
    fn name(&self) -> &'static str {
        "iam-guard"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some((path, allowed)), Some(meta)) = (&self.0, cfg.load::<Metadata>()) else {
            return Ok(());
        };
        let action = iam_action(meta.service(), meta.name());
        assert!(
            allowed.contains(&action),
            "{} does not allow {action}, which this client call needs: add it there and to the \
             function's policy in template.yaml (infra/tests/iam.rs compares them)",
            path.display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::interceptors::context::{Input, InterceptorContext};
    use aws_smithy_types::config_bag::Layer;

    use super::*;

    fn call(guard: &SdkGuard, service: &'static str, operation: &'static str) {
        let ctx = InterceptorContext::new(Input::doesnt_matter());
        let mut layer = Layer::new("operation");
        layer.store_put(Metadata::new(operation, service));
        let mut cfg = ConfigBag::of_layers(vec![layer]);
        guard
            .read_before_execution(&(&ctx).into(), &mut cfg)
            .unwrap();
    }

    #[test]
    fn a_client_call_outside_the_table_panics_naming_the_action() {
        let table = parse_table("# why\ns3:PutObject   uploads\nlambda:InvokeFunction  checks\n");
        let guard = SdkGuard(Some((PathBuf::from("functions/x/iam.txt"), table)));
        call(&guard, "S3", "UploadPart");
        call(&guard, "Lambda", "Invoke");
        let refused = std::panic::catch_unwind(|| call(&guard, "S3", "DeleteObject"));
        let message = *refused.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.starts_with("functions/x/iam.txt does not allow s3:DeleteObject"),
            "{message}"
        );
        // Outside a function crate: no table, no refusal.
        call(&SdkGuard(None), "S3", "DeleteObject");
    }

    #[test]
    fn sdk_operations_map_to_iam_actions() {
        assert_eq!(
            iam_action("CodeDeploy", "GetDeployment"),
            "codedeploy:GetDeployment"
        );
        assert_eq!(iam_action("S3", "CompleteMultipartUpload"), "s3:PutObject");
        assert_eq!(
            iam_action("S3", "AbortMultipartUpload"),
            "s3:AbortMultipartUpload"
        );
        assert_eq!(iam_action("SQS", "SendMessage"), "sqs:SendMessage");
    }
}
