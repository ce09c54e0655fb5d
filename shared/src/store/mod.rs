//! The tenant store: a small trait with DynamoDB's semantics, and two backends
//! behind it — DynamoDB (`dynamodb://<table>`) and the embedded SQLite store
//! (`sqlite://<path>`) of `valdrix serve`. One contract suite
//! (`shared/tests/store_contract.rs`) runs the same cases against both, so the
//! embedded backend is never a kinder DynamoDB.
//!
//! Items are JSON objects with string attributes `pk` and `sk`. JSON strings,
//! numbers, booleans, null, arrays and objects map to DynamoDB's S, N, BOOL,
//! NULL, L and M. Exact decimals (money) are stored as strings, never numbers.

#[cfg(any(feature = "dynamodb", feature = "sqlite"))]
mod check;
pub mod codec;
mod cursor;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::StoreUrl;

pub use cursor::Cursor;
#[cfg(feature = "dynamodb")]
pub use dynamo::DynamoStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// One stored item: a JSON object holding at least `pk` and `sk`.
pub type Item = Map<String, Value>;

/// The attribute DynamoDB's TTL is configured on: epoch seconds (a number).
/// Both backends treat an item whose `ttl` is in the past as absent.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The optimistic-concurrency counter that [`Condition::VersionEquals`] checks.
pub const VERSION_ATTRIBUTE: &str = "version";

/// What must hold for a write to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Write unconditionally.
    None,
    /// The item must not exist (or has expired).
    NotExists,
    /// The item must exist.
    Exists,
    /// The item must exist with `version` equal to this number.
    VersionEquals(u64),
}

/// Which sort keys of the partition a query returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    All,
    Prefix(String),
    /// Inclusive on both ends, as DynamoDB's BETWEEN.
    Between(String, String),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub pk: String,
    pub sk: SortKey,
    pub descending: bool,
    /// 1..=1000 items per page.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn new(pk: impl Into<String>, sk: SortKey) -> Self {
        Self {
            pk: pk.into(),
            sk,
            descending: false,
            limit: 100,
            cursor: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; opaque to callers.
    pub next_cursor: Option<Cursor>,
}

/// One part of an all-or-nothing transactional write.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Only checks a condition on another item.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

/// At most this many operations in one transaction (DynamoDB's limit).
pub const MAX_TRANSACTION_OPS: usize = 100;
/// Keys per BatchGetItem request; [`Store::batch_get`] takes any number and
/// splits them.
pub const MAX_BATCH_GET: usize = 100;
/// Items per BatchWriteItem request; [`Store::batch_put`] splits likewise.
pub const MAX_BATCH_PUT: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A single write's condition did not hold.
    #[error("condition failed on {pk}/{sk}")]
    ConditionFailed { pk: String, sk: String },
    /// A transaction was rolled back because the condition of op `index` failed.
    #[error("transaction cancelled: condition of operation {index} failed on {pk}/{sk}")]
    TransactionConditionFailed {
        index: usize,
        pk: String,
        sk: String,
    },
    /// Another transaction touched the same items at the same time; retryable.
    #[error("transaction conflict; retry")]
    TransactionConflict,
    /// A cursor that this query did not produce.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A request the store refuses as malformed (bad item, too many ops, bad limit).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The backend cannot be reached or failed; the caller answers 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    /// Put (create or replace) an item under a condition; an update is a put
    /// with [`Condition::VersionEquals`] and the version bumped by the caller.
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError>;
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError>;
    async fn query(&self, query: Query) -> Result<Page, StoreError>;
    /// All or nothing; on failure names the operation whose condition failed.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
    /// Many strongly consistent reads: one answer per key, in the keys'
    /// order. Keys must be distinct (DynamoDB refuses a repeated key).
    async fn batch_get(&self, keys: Vec<(String, String)>)
    -> Result<Vec<Option<Item>>, StoreError>;
    /// Many unconditional puts, distinct keys, each atomic on its own but not
    /// together (BatchWriteItem carries no conditions: use [`Store::transact`]
    /// where one is needed).
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError>;
    /// A cheap round trip for health checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Create the table (with TTL) where it is missing; true when created.
    /// Only with `provision` (migrate, serve, tests): no deployed function
    /// creates tables, so none links DynamoDB's table operations.
    #[cfg(feature = "provision")]
    async fn ensure_table(&self) -> Result<bool, StoreError>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens the backend a `DATABASE_URL` names. The SQLite file and its schema
/// are created here; a DynamoDB table is not (call [`Store::ensure_table`]
/// where creating it is allowed, e.g. `valdrix serve` and tests).
pub async fn open(url: &StoreUrl) -> Result<DynStore, StoreError> {
    match url {
        #[cfg(feature = "sqlite")]
        StoreUrl::Sqlite { path } => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(path))
                .await
                .map_err(|_| StoreError::Unavailable("sqlite open task failed".into()))??;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "dynamodb")]
        StoreUrl::DynamoDb {
            table,
            endpoint,
            region,
        } => Ok(Arc::new(
            DynamoStore::connect(table, endpoint.as_deref(), region.as_deref()).await,
        )),
        #[allow(unreachable_patterns)]
        other => Err(StoreError::Invalid(format!(
            "{} stores are not built into this binary",
            other.scheme()
        ))),
    }
}
