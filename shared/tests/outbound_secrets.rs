//! Planted secrets must not leak into any `CallResult.detail`, error string or log
//! line, on any error path, even when the far end echoes the request back.

mod outbound_support;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use valdrix_shared::outbound::vendor::{
    Endpoints, GithubTarget, GitlabTarget, JiraTarget, SlackTarget, WebhookTarget, github_dispatch,
    gitlab_trigger, jira_create_issue, jira_myself, slack_auth_test, slack_post_message,
    webhook_deliver,
};
use valdrix_shared::outbound::{CallResult, Outbound, Policy, Timeouts};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use outbound_support::*;

/// Everything sensitive the request carried, as text.
fn echo(req: &Request) -> String {
    let auth = req
        .headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    format!("auth={auth} body={}", String::from_utf8_lossy(&req.body))
}

/// A far end that puts the request into its error fields, for every API shape.
struct Echo(u16);

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let e = echo(req);
        ResponseTemplate::new(self.0).set_body_json(json!({
            "ok": false,
            "error": e,
            "message": e,
            "errorMessages": [e],
            "errors": {"field": e},
        }))
    }
}

struct Targets {
    slack_token: SecretString,
    jira: JiraTarget,
    github: GithubTarget,
    gitlab: GitlabTarget,
    webhook: WebhookTarget,
}

fn targets(base: &str) -> Targets {
    Targets {
        slack_token: SecretString::from(BOT_TOKEN),
        jira: JiraTarget {
            base_url: base.into(),
            email: "ops@tenant.example".into(),
            api_token: SecretString::from(JIRA_TOKEN),
            project_key: "OPS".into(),
            issue_type: "Task".into(),
        },
        github: GithubTarget {
            owner: "acme".into(),
            repo: "infra".into(),
            workflow_id: "valdrix.yml".into(),
            git_ref: "main".into(),
            token: SecretString::from(GITHUB_TOKEN),
        },
        gitlab: GitlabTarget {
            base_url: base.into(),
            project_id: "42".into(),
            git_ref: "main".into(),
            trigger_token: SecretString::from(TRIGGER_TOKEN),
        },
        webhook: WebhookTarget {
            url: format!("{base}/hook"),
            bearer_token: Some(SecretString::from(BEARER)),
            signing_secret: SecretString::from(SIGNING_SECRET),
        },
    }
}

/// Every dispatcher once against `base`/`endpoints` with `client`.
async fn run_all(client: &Outbound, endpoints: &Endpoints, t: &Targets) -> Vec<CallResult> {
    let n = notification();
    let slack = SlackTarget {
        channel: "C1".into(),
    };
    vec![
        slack_post_message(client, endpoints, &t.slack_token, &slack, &n).await,
        slack_auth_test(client, endpoints, &t.slack_token).await,
        jira_create_issue(client, &t.jira, &n).await,
        jira_myself(client, &t.jira).await,
        github_dispatch(client, endpoints, &t.github, &n).await,
        gitlab_trigger(client, &t.gitlab, &n).await,
        webhook_deliver(client, &t.webhook, &n).await,
    ]
}

fn assert_clean(text: &str, context: &str) {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("ops@tenant.example:{JIRA_TOKEN}"),
    );
    for secret in all_secrets().into_iter().chain([basic.as_str()]) {
        assert!(
            !text.contains(secret),
            "{context}: leaked {secret} in {text}"
        );
        // A cut or filtered copy would still give most of it away.
        let head = &secret[..secret.len() * 2 / 3];
        assert!(
            !text.contains(head),
            "{context}: leaked part of {secret} in {text}"
        );
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_details_errors_or_logs_on_any_path() {
    let logs = Capture::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut deliveries = Vec::new();
    // 1. Far ends that echo the request into their error fields (4xx and 5xx).
    for status in [400, 422, 500] {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(Echo(status))
            .mount(&server)
            .await;
        let got = run_all(
            &local_client(),
            &endpoints(&server),
            &targets(&server.uri()),
        )
        .await;
        assert!(got.iter().all(|d| !d.ok));
        assert_eq!(
            received(&server).await.len(),
            7,
            "every dispatcher reached the echo"
        );
        deliveries.extend(got);
    }
    // 2. A hang past the timeout.
    let slow = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let client = local_client_with_total(Duration::from_millis(200));
    deliveries.extend(run_all(&client, &endpoints(&slow), &targets(&slow.uri())).await);
    // 3. Redirects.
    let moved = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", "http://169.254.169.254/"),
        )
        .mount(&moved)
        .await;
    deliveries.extend(run_all(&local_client(), &endpoints(&moved), &targets(&moved.uri())).await);
    // 4. Production policy: refusals, including URLs that carry secrets.
    let prod = Outbound::new(Policy::default(), Timeouts::default());
    let base = format!("https://127.0.0.1/?token={BEARER}");
    deliveries.extend(run_all(&prod, &endpoints(&moved), &targets(&base)).await);
    let mut t = targets(&format!("https://u:{BEARER}@hooks.example.com"));
    t.webhook.url = format!("https://u:{TRIGGER_TOKEN}@hooks.example.com/?k={GITHUB_TOKEN}");
    deliveries.extend(run_all(&prod, &Endpoints::default(), &t).await);
    // 5. Bad config.
    let mut t = targets("not a url");
    t.webhook.signing_secret = SecretString::from(format!("whsec_{BEARER}!"));
    deliveries.extend(run_all(&local_client(), &endpoints(&moved), &t).await);

    assert!(deliveries.len() >= 50);
    for d in &deliveries {
        assert!(!d.ok);
        assert_clean(&d.detail, "detail");
        assert_clean(&format!("{d:?}"), "debug");
    }
    let t = targets("https://x.example");
    for debug in [
        format!("{:?}", t.jira),
        format!("{:?}", t.github),
        format!("{:?}", t.gitlab),
        format!("{:?}", t.webhook),
    ] {
        assert_clean(&debug, "target debug");
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("outbound call"),
        "logging was captured: {logs}"
    );
    assert_clean(&logs, "logs");
}

#[tokio::test]
async fn echoed_secrets_are_redacted_not_dropped_silently() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Echo(400))
        .mount(&server)
        .await;
    let t = targets(&server.uri());
    let d = github_dispatch(
        &local_client(),
        &endpoints(&server),
        &t.github,
        &notification(),
    )
    .await;
    assert!(
        d.detail
            .starts_with("GitHub answered 400: auth=Bearer [redacted]"),
        "{}",
        d.detail
    );
    let d = jira_myself(&local_client(), &t.jira).await;
    assert!(
        d.detail
            .starts_with("Jira answered 400: auth=Basic [redacted]"),
        "{}",
        d.detail
    );
    let d = gitlab_trigger(&local_client(), &t.gitlab, &notification()).await;
    assert!(d.detail.contains("token=[redacted]"), "{}", d.detail);
}
