//! The client against a local fake: timeouts, redirects never followed,
//! Retry-After kept, body cap, and the guard refusing before any connection.

mod outbound_support;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::SecretString;
use url::Url;
use valdrix_shared::outbound::ssrf::Lookup;
use valdrix_shared::outbound::vendor::{WebhookTarget, webhook_deliver};
use valdrix_shared::outbound::{
    Kind, MAX_RESPONSE_BYTES, Outbound, Policy, Retryability, Timeouts,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use outbound_support::*;

async fn get(
    client: &Outbound,
    server: &MockServer,
    p: &str,
) -> Result<valdrix_shared::outbound::Reply, valdrix_shared::outbound::CallResult> {
    let url = Url::parse(&format!("{}{p}", server.uri())).unwrap();
    client
        .execute(Kind::Webhook, Method::GET, &url, |rb| rb)
        .await
}

#[tokio::test]
async fn a_hang_past_the_total_timeout_is_a_retryable_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = local_client_with_total(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let d = get(&client, &server, "/slow").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_retryable(&d);
    assert_eq!(d.detail, "timed out");
    assert_eq!(d.status_code, None);
    assert!(d.latency_ms >= 250, "{}", d.latency_ms);
}

#[tokio::test]
async fn a_redirect_is_a_permanent_failure_and_never_followed() {
    let target = MockServer::start().await;
    let server = MockServer::start().await;
    for (p, location) in [
        ("/moved", format!("{}/landing", target.uri())),
        (
            "/to-metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
    ] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(302).insert_header("location", location.as_str()))
            .mount(&server)
            .await;
        let d = get(&local_client(), &server, p).await.unwrap_err();
        assert_permanent(&d);
        assert_eq!(d.status_code, Some(302));
        assert!(d.detail.contains("redirect not followed"), "{}", d.detail);
    }
    assert!(
        received(&target).await.is_empty(),
        "redirect target was contacted"
    );
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn status_429_keeps_retry_after_in_seconds_or_as_a_date() {
    let server = MockServer::start().await;
    let date = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
    Mock::given(path("/secs"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "17"))
        .mount(&server)
        .await;
    Mock::given(path("/date"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", date.as_str()))
        .mount(&server)
        .await;
    let client = local_client();
    let reply = get(&client, &server, "/secs").await.unwrap();
    let d = reply.failure("busy");
    assert_eq!(
        d.retry,
        Retryability::Retryable {
            retry_after: Some(Duration::from_secs(17))
        }
    );
    let d = get(&client, &server, "/date")
        .await
        .unwrap()
        .failure("busy");
    match d.retry {
        Retryability::Retryable {
            retry_after: Some(after),
        } => {
            assert!((110..=121).contains(&after.as_secs()), "{after:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn server_errors_are_retryable_and_client_errors_permanent() {
    let server = MockServer::start().await;
    for code in [500u16, 502, 503, 404, 400] {
        Mock::given(path(format!("/{code}")))
            .respond_with(ResponseTemplate::new(code))
            .mount(&server)
            .await;
    }
    let client = local_client();
    for code in [500u16, 502, 503] {
        let d = get(&client, &server, &format!("/{code}"))
            .await
            .unwrap()
            .failure("x");
        assert_retryable(&d);
        assert_eq!(d.status_code, Some(code));
    }
    for code in [400u16, 404] {
        assert_permanent(
            &get(&client, &server, &format!("/{code}"))
                .await
                .unwrap()
                .failure("x"),
        );
    }
}

#[tokio::test]
async fn bodies_are_capped_at_64_kib_without_error() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1024 * 1024]))
        .mount(&server)
        .await;
    Mock::given(path("/small"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; MAX_RESPONSE_BYTES]))
        .mount(&server)
        .await;
    let reply = get(&local_client(), &server, "/big").await.unwrap();
    assert_eq!(reply.body.len(), MAX_RESPONSE_BYTES);
    assert!(reply.truncated);
    let reply = get(&local_client(), &server, "/small").await.unwrap();
    assert_eq!(reply.body.len(), MAX_RESPONSE_BYTES);
    assert!(!reply.truncated);
}

fn hook(url: String) -> WebhookTarget {
    WebhookTarget {
        url,
        bearer_token: Some(SecretString::from(BEARER)),
        signing_secret: SecretString::from(SIGNING_SECRET),
    }
}

#[tokio::test]
async fn the_production_policy_refuses_the_fake_before_any_connection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let prod = Outbound::new(Policy::default(), Timeouts::default());
    let port = server.address().port();
    for url in [
        format!("{}/hook", server.uri()),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        format!("https://2130706433:{port}/hook"),
    ] {
        let d = webhook_deliver(&prod, &hook(url.clone()), &notification()).await;
        assert_permanent(&d);
        assert!(d.detail.starts_with("refused:"), "{url}: {}", d.detail);
    }
    assert!(received(&server).await.is_empty());
    // Same URL, local allowance: it arrives, so the refusal above was the guard.
    let d = webhook_deliver(
        &local_client(),
        &hook(format!("{}/hook", server.uri())),
        &notification(),
    )
    .await;
    assert!(d.ok, "{d:?}");
    assert_eq!(received(&server).await.len(), 1);
}

/// A resolver that answers every name with one address.
struct AlwaysAt(IpAddr);

#[async_trait]
impl Lookup for AlwaysAt {
    async fn lookup(&self, _host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0, port)])
    }
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_inside_the_client() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let url = format!("http://hooks.example.com:{}/hook", server.address().port());
    let loopback = Arc::new(AlwaysAt("127.0.0.1".parse().unwrap()));
    // http allowed but private not: the guard must judge the DNS answer.
    let half_open = Policy {
        allow_http: true,
        allow_private: false,
    };
    let client = Outbound::with_lookup(half_open, Timeouts::default(), loopback.clone());
    let d = webhook_deliver(&client, &hook(url.clone()), &notification()).await;
    assert_permanent(&d);
    assert!(
        d.detail
            .contains("resolves to non-public address 127.0.0.1"),
        "{}",
        d.detail
    );
    assert!(received(&server).await.is_empty());

    // With the allowance, the request goes to the resolver's answer: the name
    // does not exist anywhere else, so arriving proves the connect is pinned to it.
    let client = Outbound::with_lookup(LOCAL, Timeouts::default(), loopback);
    let d = webhook_deliver(&client, &hook(url), &notification()).await;
    assert!(d.ok, "{d:?}");
    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 1);
    assert!(header(&reqs[0], "host").starts_with("hooks.example.com"));
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_connection_failure() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let d = local_client()
        .execute(Kind::Webhook, Method::GET, &url, |rb| rb)
        .await
        .unwrap_err();
    assert_retryable(&d);
    assert_eq!(d.detail, "could not connect");
}
