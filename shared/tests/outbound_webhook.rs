//! Generic webhook: Standard Webhooks headers a receiver library accepts.

mod outbound_support;

use secrecy::SecretString;
use serde_json::Value;
use valdrix_shared::outbound::vendor::{WebhookTarget, webhook_deliver};
use valdrix_shared::outbound::webhook_sig::verify;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use outbound_support::*;

fn target(url: String, bearer: bool) -> WebhookTarget {
    WebhookTarget {
        url,
        bearer_token: bearer.then(|| SecretString::from(BEARER)),
        signing_secret: SecretString::from(SIGNING_SECRET),
    }
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/valdrix"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn delivers_a_signed_event_the_receiver_can_verify() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/valdrix"))
        .and(header("authorization", format!("Bearer {BEARER}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("webhook-id", "msg_2f1c9a7e4b"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/hooks/valdrix", server.uri());
    let d = webhook_deliver(&local_client(), &target(url, true), &notification()).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.status_code, Some(202));

    let req = &received(&server).await[0];
    let ts: i64 = header_of(req, "webhook-timestamp").parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - ts).abs() < 60);
    let secret = SecretString::from(SIGNING_SECRET);
    let sig = header_of(req, "webhook-signature");
    assert!(sig.starts_with("v1,"));
    verify(&secret, "msg_2f1c9a7e4b", ts, &req.body, sig, now).expect("valid signature");
    let mut tampered = req.body.clone();
    tampered[0] = b' ';
    assert!(verify(&secret, "msg_2f1c9a7e4b", ts, &tampered, sig, now).is_err());

    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["type"], "policy.block");
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(body["data"]["tenant_id"], notification().tenant_id);
    assert_eq!(body["data"]["decision"], "block");
    assert_eq!(body["data"]["request_id"], "req-42");
}

fn header_of<'a>(req: &'a wiremock::Request, name: &str) -> &'a str {
    outbound_support::header(req, name)
}

#[tokio::test]
async fn retries_keep_the_webhook_id_so_receivers_can_dedup() {
    let server = receiver(503).await;
    let url = format!("{}/hooks/valdrix", server.uri());
    let first = webhook_deliver(
        &local_client(),
        &target(url.clone(), false),
        &notification(),
    )
    .await;
    let second = webhook_deliver(&local_client(), &target(url, false), &notification()).await;
    assert_retryable(&first);
    assert_retryable(&second);
    let reqs = received(&server).await;
    assert_eq!(
        header_of(&reqs[0], "webhook-id"),
        header_of(&reqs[1], "webhook-id")
    );
    assert!(
        reqs.iter()
            .all(|r| r.headers.get("authorization").is_none())
    );
}

#[tokio::test]
async fn non_2xx_fails_without_echoing_the_receivers_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("internal stack trace here"))
        .mount(&server)
        .await;
    let d = webhook_deliver(
        &local_client(),
        &target(server.uri(), false),
        &notification(),
    )
    .await;
    assert_permanent(&d);
    assert_eq!(d.detail, "receiver answered 400");
}

#[tokio::test]
async fn a_huge_2xx_answer_is_still_a_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 2 * 1024 * 1024]))
        .mount(&server)
        .await;
    let d = webhook_deliver(
        &local_client(),
        &target(server.uri(), false),
        &notification(),
    )
    .await;
    assert!(d.ok, "{d:?}");
}

#[tokio::test]
async fn a_bad_signing_secret_or_key_is_bad_config_without_a_request() {
    let server = receiver(204).await;
    let mut t = target(format!("{}/hooks/valdrix", server.uri()), false);
    t.signing_secret = SecretString::from("whsec_!!!");
    let d = webhook_deliver(&local_client(), &t, &notification()).await;
    assert_permanent(&d);
    assert!(d.detail.starts_with("bad config:"), "{}", d.detail);
    let mut n = notification();
    n.idempotency_key = "two words".into();
    let d = webhook_deliver(&local_client(), &target(server.uri(), false), &n).await;
    assert!(d.detail.starts_with("bad config:"), "{}", d.detail);
    assert!(received(&server).await.is_empty());
}
