//! Slack dispatch against a fake Web API.

mod outbound_support;

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use valdrix_shared::outbound::Retryability;
use valdrix_shared::outbound::vendor::{SlackTarget, slack_auth_test, slack_post_message};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use outbound_support::*;

fn token() -> SecretString {
    SecretString::from(BOT_TOKEN)
}

fn target() -> SlackTarget {
    SlackTarget {
        channel: "C0123456789".into(),
    }
}

async fn slack_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn posts_the_message_with_bot_auth_and_json_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header(
            "authorization",
            format!("Bearer {BOT_TOKEN}").as_str(),
        ))
        .and(header("content-type", "application/json; charset=utf-8"))
        .and(body_partial_json(json!({"channel": "C0123456789"})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "ts": "1712.0001"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut n = notification();
    n.summary = "Deleting <!channel> & <https://evil.example|click> on vol-0abc".into();
    let d = slack_post_message(
        &local_client(),
        &endpoints(&server),
        &token(),
        &target(),
        &n,
    )
    .await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.status_code, Some(200));
    assert_eq!(d.external_id.as_deref(), Some("1712.0001"));

    let reqs = received(&server).await;
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        "Policy Block: delete_volume"
    );
    let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
    assert_eq!(body["blocks"][1]["text"]["type"], "mrkdwn");
    assert!(section.contains("*Resource:* vol-0abc"), "{section}");
    assert!(
        section.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"),
        "{section}"
    );
    assert!(!section.contains("<!channel>"));
    assert!(
        section.contains("<https://app.valdrix.io/ops|ops_dashboard>"),
        "{section}"
    );
    let text = body["text"].as_str().unwrap();
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
}

#[tokio::test]
async fn ok_false_on_http_200_is_a_failure_with_slacks_code() {
    for code in ["channel_not_found", "not_in_channel", "invalid_auth"] {
        let server = slack_answering(200, json!({"ok": false, "error": code})).await;
        let d = slack_post_message(
            &local_client(),
            &endpoints(&server),
            &token(),
            &target(),
            &notification(),
        )
        .await;
        assert_permanent(&d);
        assert_eq!(d.status_code, Some(200));
        assert_eq!(d.detail, format!("Slack refused: {code}"));
    }
}

#[tokio::test]
async fn rate_limits_are_retryable_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "30")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .mount(&server)
        .await;
    let d = slack_post_message(
        &local_client(),
        &endpoints(&server),
        &token(),
        &target(),
        &notification(),
    )
    .await;
    assert_eq!(
        d.retry,
        Retryability::Retryable {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(d.detail, "Slack refused: ratelimited");

    let server = slack_answering(200, json!({"ok": false, "error": "ratelimited"})).await;
    let d = slack_post_message(
        &local_client(),
        &endpoints(&server),
        &token(),
        &target(),
        &notification(),
    )
    .await;
    assert_retryable(&d);
}

#[tokio::test]
async fn non_json_or_5xx_answers_fail_sensibly() {
    let server = MockServer::start().await;
    Mock::given(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy</html>"))
        .mount(&server)
        .await;
    let d = slack_post_message(
        &local_client(),
        &endpoints(&server),
        &token(),
        &target(),
        &notification(),
    )
    .await;
    assert_permanent(&d);
    assert!(d.detail.contains("without ok: true"), "{}", d.detail);

    let server = slack_answering(503, json!({})).await;
    let d = slack_post_message(
        &local_client(),
        &endpoints(&server),
        &token(),
        &target(),
        &notification(),
    )
    .await;
    assert_retryable(&d);
}

#[tokio::test]
async fn a_malformed_channel_is_bad_config_without_a_request() {
    let server = slack_answering(200, json!({"ok": true})).await;
    let bad = SlackTarget {
        channel: "general\nx".into(),
    };
    let d = slack_post_message(
        &local_client(),
        &endpoints(&server),
        &token(),
        &bad,
        &notification(),
    )
    .await;
    assert_permanent(&d);
    assert!(d.detail.starts_with("bad config:"));
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn auth_test_checks_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .and(header(
            "authorization",
            format!("Bearer {BOT_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "team_id": "T123"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let d = slack_auth_test(&local_client(), &endpoints(&server), &token()).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.external_id.as_deref(), Some("T123"));

    let server = MockServer::start().await;
    Mock::given(path("/api/auth.test"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_auth"})),
        )
        .mount(&server)
        .await;
    let d = slack_auth_test(&local_client(), &endpoints(&server), &token()).await;
    assert_eq!(d.detail, "Slack refused: invalid_auth");
}
