//! DynamoDB backend of the store (`dynamodb://<table>[?endpoint=…&region=…]`).
//!
//! Table: `pk` (S, HASH), `sk` (S, RANGE), on-demand, TTL on `ttl`, stream
//! NEW_AND_OLD_IMAGES. Reads are strongly consistent, so a read after a write
//! sees it, as in the embedded store.

mod batch;
mod convert;
mod errors;
mod expr;
#[cfg(feature = "provision")]
mod provision;

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};

use self::convert::{AttributeMap, from_attributes, key, to_attributes};
use self::expr::Expr;
use super::check::{self, now_epoch};
use super::{Condition, Cursor, Item, Page, Query, Store, StoreError, WriteOp};

/// Short timeouts and one retry: an unreachable store must fail a health
/// check (503) in seconds, not after the SDK's default back-off.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_ATTEMPTS: u32 = 2;
/// The fixed key `ping` reads; it never exists.
const PING_KEY: (&str, &str) = ("HEALTH#ping", "-");

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over an existing client (share one `SdkConfig` per process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store from the process's shared `SdkConfig` (one per process, shared
    /// with Secrets Manager), with this store's short timeouts and retries.
    pub fn from_sdk_config(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .build();
        Self::new(Client::from_conf(config), table)
    }

    /// Loads the default AWS configuration chain. With an emulator `endpoint`
    /// and no credentials or region in the environment, static test
    /// credentials and us-east-1 are used (DynamoDB Local accepts any).
    pub async fn connect(table: &str, endpoint: Option<&str>, region: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_owned()));
        }
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
            if region.is_none() && !env_set("AWS_REGION") && !env_set("AWS_DEFAULT_REGION") {
                loader = loader.region(Region::from_static("us-east-1"));
            }
            if !env_set("AWS_ACCESS_KEY_ID") {
                loader = loader.credentials_provider(Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "valdrix-emulator",
                ));
            }
        }
        Self::from_sdk_config(&loader.load().await, table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn env_set(name: &str) -> bool {
    crate::config::process::get(name).is_some()
}

fn built<T>(result: Result<T, BuildError>) -> Result<T, StoreError> {
    result.map_err(|_| StoreError::Invalid("dynamodb request is missing a field".into()))
}

/// An item read back, or `None` when it has expired.
fn live(attributes: &AttributeMap, now: i64) -> Result<Option<Item>, StoreError> {
    let item = from_attributes(attributes)?;
    Ok((!check::is_expired(&item, now)).then_some(item))
}

fn cursor_from(last: &AttributeMap) -> Result<Cursor, StoreError> {
    match (last.get("pk"), last.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Ok(Cursor {
            pk: pk.clone(),
            sk: sk.clone(),
        }),
        _ => Err(StoreError::Unavailable(
            "dynamodb query: unexpected LastEvaluatedKey".into(),
        )),
    }
}

fn transact_item(op: WriteOp, table: &str, now: i64) -> Result<TransactWriteItem, StoreError> {
    let item = match op {
        WriteOp::Put { item, condition } => {
            let (text, names, values) = Expr::parts(expr::condition(&condition, now));
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(to_attributes(&item)))
                .set_condition_expression(text)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build();
            TransactWriteItem::builder().put(built(put)?)
        }
        WriteOp::Delete { pk, sk, condition } => {
            let (text, names, values) = Expr::parts(expr::condition(&condition, now));
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key(&pk, &sk)))
                .set_condition_expression(text)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build();
            TransactWriteItem::builder().delete(built(delete)?)
        }
        WriteOp::Check { pk, sk, condition } => {
            let (text, names, values) = Expr::parts(expr::condition(&condition, now));
            let check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key(&pk, &sk)))
                .set_condition_expression(text)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build();
            TransactWriteItem::builder().condition_check(built(check)?)
        }
    };
    Ok(item.build())
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check::key(pk, sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| errors::map("get_item", &e))?;
        match out.item() {
            Some(attributes) => live(attributes, now_epoch()),
            None => Ok(None),
        }
    }

    async fn put(&self, mut item: Item, condition: Condition) -> Result<(), StoreError> {
        let (pk, sk) = check::item(&mut item)?;
        let (text, names, values) = Expr::parts(expr::condition(&condition, now_epoch()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attributes(&item)))
            .set_condition_expression(text)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if errors::is_condition_failed(&e) {
                    StoreError::ConditionFailed { pk, sk }
                } else {
                    errors::map("put_item", &e)
                }
            })
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check::key(pk, sk)?;
        let (text, names, values) = Expr::parts(expr::condition(&condition, now_epoch()));
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(text)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if errors::is_condition_failed(&e) {
                    StoreError::ConditionFailed {
                        pk: pk.to_owned(),
                        sk: sk.to_owned(),
                    }
                } else {
                    errors::map("delete_item", &e)
                }
            })
    }

    /// Limit applies before the TTL filter (DynamoDB's rule), so a page may
    /// hold fewer items than the limit, or none, and still have a cursor.
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        check::query(&query)?;
        let now = now_epoch();
        let (key_condition, filter) = expr::query(&query, now);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_condition)
            .filter_expression(filter.text)
            .set_expression_attribute_names(Some(filter.names))
            .set_expression_attribute_values(Some(filter.values))
            .scan_index_forward(!query.descending)
            .limit(query.limit as i32)
            .consistent_read(true)
            .set_exclusive_start_key(query.cursor.as_ref().map(|c| key(&c.pk, &c.sk)))
            .send()
            .await
            .map_err(|e| errors::map("query", &e))?;
        let mut items = Vec::with_capacity(out.items().len());
        for attributes in out.items() {
            // The filter already dropped expired items; this guards the clock edge.
            if let Some(item) = live(attributes, now)? {
                items.push(item);
            }
        }
        let next_cursor = out.last_evaluated_key().map(cursor_from).transpose()?;
        Ok(Page { items, next_cursor })
    }

    async fn transact(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let keys = check::transaction(&mut ops)?;
        let now = now_epoch();
        let items = ops
            .into_iter()
            .map(|op| transact_item(op, &self.table, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| errors::map_transaction(&e, &keys))
    }

    async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        check::batch_keys(&keys)?;
        self.get_batch(&keys).await
    }

    async fn batch_put(&self, mut items: Vec<Item>) -> Result<(), StoreError> {
        check::batch_items(&mut items)?;
        self.put_batch(&items).await
    }

    /// One GetItem of a key that never exists: data-plane, cheap, and it
    /// fails when the table is missing or the credentials are refused.
    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(PING_KEY.0, PING_KEY.1)))
            .projection_expression("pk")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| errors::map("ping", &e))
    }

    #[cfg(feature = "provision")]
    async fn ensure_table(&self) -> Result<bool, StoreError> {
        self.ensure().await
    }
}
