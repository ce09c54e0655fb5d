//! GET /health against a DynamoDB Local that goes away and comes back, fed
//! from the events/ samples.

use valdrix_shared::config::StoreUrl;
use valdrix_shared::http::layers;
use valdrix_shared::store;
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
    let app = layers(health::router(state.clone()), &state.config);

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
