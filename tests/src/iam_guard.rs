//! The store a function's own tests use refuses any call its IAM table
//! (`functions/<crate>/iam.txt`, held equal to template.yaml by
//! infra/tests/iam.rs) does not allow: a function that gains a store call
//! fails its tests until the table, and so the template, allow it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
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

impl Guarded {
    fn need(&self, action: &str) {
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

    async fn ping(&self) -> Result<(), StoreError> {
        self.need(GET);
        self.inner.ping().await
    }

    async fn ensure_table(&self) -> Result<bool, StoreError> {
        self.need("dynamodb:CreateTable");
        self.inner.ensure_table().await
    }
}
