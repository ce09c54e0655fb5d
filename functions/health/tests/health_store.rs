//! GET /health against a DynamoDB Local that goes away and comes back, fed
//! from the events/ samples.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use valdrix_shared::config::StoreUrl;
use valdrix_shared::http::layers;
use valdrix_shared::store::{
    self, Condition, DynStore, Item, Page, Query, Store, StoreError, WriteOp,
};
use valdrix_tests::{PrivateDynamo, call, event_request, state_with};

#[tokio::test]
async fn health_is_503_while_the_store_is_down_and_200_once_back() {
    let mut dynamo = PrivateDynamo::start().await;
    let url = StoreUrl::DynamoDb {
        table: "health-check".into(),
        endpoint: Some(dynamo.endpoint()),
        region: Some("us-east-1".into()),
    };
    let store = store::open(&url).await.unwrap();
    store.ensure_table().await.unwrap();
    let state = state_with(store.clone());
    // Uncached: each call below sees the store as it is.
    let app = layers(
        health::router_with_ttl(state.clone(), Duration::ZERO),
        &state.config,
    );

    let (status, _, body) = call(&app, event_request("health-get", &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["checks"]["store"]["status"], "up");
    assert!(body["checks"]["store"]["latency_ms"].is_u64());
    assert_eq!(body["checks"]["config"]["status"], "valid");

    dynamo.stop();
    let (status, _, body) = call(&app, event_request("health-get", &[])).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["checks"]["store"]["status"], "down");
    assert_eq!(body["failing"], serde_json::json!(["store"]));
    let text = body.to_string();
    for leak in ["127.0.0.1", "dispatch", "connect", "error"] {
        assert!(
            !text.to_lowercase().contains(leak),
            "raw error text in body: {text}"
        );
    }
    // Liveness touches nothing, so it stays up.
    let (status, _, _) = call(&app, event_request("health-live", &[])).await;
    assert_eq!(status, 200);

    dynamo.restart().await;
    store.ensure_table().await.unwrap();
    let (status, _, body) = call(&app, event_request("health-get", &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "healthy");
}

#[tokio::test]
async fn health_answers_carry_no_secret() {
    let state = state_with(valdrix_tests::sqlite_store().await);
    let app = layers(health::router(state.clone()), &state.config);
    let (status, headers, body) = call(&app, event_request("health-get", &[])).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-request-id"));
    let text = format!("{body} {headers:?}");
    for secret in [
        valdrix_tests::JWT_SECRET,
        valdrix_tests::ENCRYPTION_KEY,
        valdrix_tests::ADMIN_API_KEY,
        valdrix_tests::KDF_SALT,
    ] {
        assert!(!text.contains(secret));
    }
}

/// Counts the store checks (pings) that reach it.
struct CountingPings {
    inner: DynStore,
    pings: AtomicUsize,
}

#[async_trait]
impl Store for CountingPings {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        self.inner.delete(pk, sk, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.inner.transact(ops).await
    }
    async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.inner.batch_put(items).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.inner.ping().await
    }
    async fn ensure_table(&self) -> Result<bool, StoreError> {
        self.inner.ensure_table().await
    }
}

#[tokio::test]
async fn a_burst_of_health_calls_reads_the_store_once_per_ttl() {
    let counting = Arc::new(CountingPings {
        inner: valdrix_tests::sqlite_store().await,
        pings: AtomicUsize::new(0),
    });
    let state = state_with(counting.clone());
    let app = layers(
        health::router_with_ttl(state.clone(), Duration::from_millis(400)),
        &state.config,
    );
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = app.clone();
        calls.spawn(async move { call(&app, event_request("health-get", &[])).await });
    }
    while let Some(done) = calls.join_next().await {
        let (status, _, body) = done.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body["checks"]["store"]["age_ms"].is_u64(), "{body}");
    }
    assert_eq!(
        counting.pings.load(Ordering::SeqCst),
        1,
        "one check for the burst"
    );

    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, _, body) = call(&app, event_request("health-get", &[])).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["checks"]["store"]["age_ms"].as_u64().unwrap() < 400,
        "a fresh check: {body}"
    );
    assert_eq!(
        counting.pings.load(Ordering::SeqCst),
        2,
        "a new check once stale"
    );
}
