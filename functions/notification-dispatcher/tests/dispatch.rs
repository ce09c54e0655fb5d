//! Fan-out of policy events on DynamoDB Local to local fake receivers: once
//! per channel, retries, dead letters, replays and a crash mid-delivery.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use valdrix_shared::outbound::CallResult;
use valdrix_shared::policy::deadletter::StoreDeadLetters;
use valdrix_shared::policy::dispatch::{Dispatcher, MAX_ATTEMPTS, Sender, Step};
use valdrix_shared::policy::redrive::{Redrive, redrive};
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::policy::{
    self, Accepted, Channel, Delivery, DeliveryStatus, PolicyEvent, PolicyEventInput,
};
use valdrix_shared::store::{Query, SortKey};
use valdrix_tests::{
    FakeWorld, GITHUB_DISPATCH_PATH, GITLAB_TRIGGER_PATH, WEBHOOK_PATH, dynamo_store, unique,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn world() -> FakeWorld {
    FakeWorld::new(dynamo_store().await, Duration::from_secs(2)).await
}

async fn accept_block(w: &FakeWorld) -> String {
    let id = unique("evt");
    let input: PolicyEventInput = serde_json::from_value(json!({
        "event_id": id, "tenant_id": w.tenant, "decision": "block", "action": "ec2.terminate",
        "resource_id": "i-0abc", "summary": "Instance type not allowed", "severity": "high",
    }))
    .unwrap();
    let accepted = policy::accept(w.state.store.as_ref(), &w.state.audit, input)
        .await
        .unwrap();
    assert!(matches!(accepted, Accepted::Created(_)));
    id
}

async fn deliveries(w: &FakeWorld, id: &str) -> Vec<Delivery> {
    policy::load_state(w.state.store.as_ref(), id)
        .await
        .unwrap()
        .unwrap()
        .deliveries
        .into_iter()
        .map(|(d, _)| d)
        .collect()
}

async fn delivery_to(w: &FakeWorld, id: &str, channel: Channel) -> Delivery {
    deliveries(w, id)
        .await
        .into_iter()
        .find(|d| d.channel == channel)
        .unwrap()
}

fn dispatcher<'a>(
    w: &'a FakeWorld,
    sender: &'a dyn Sender,
    dead: &'a StoreDeadLetters,
) -> Dispatcher<'a> {
    Dispatcher {
        store: w.state.store.as_ref(),
        audit: &w.state.audit,
        sender,
        dead_letters: dead,
    }
}

#[tokio::test]
async fn a_block_event_reaches_each_receiver_once() {
    let w = world().await;
    w.all_succeed().await;
    let id = accept_block(&w).await;
    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let d = dispatcher(&w, &sender, &dead);
    let now = chrono::Utc::now().timestamp();
    for delivery in deliveries(&w, &id).await {
        assert_eq!(
            d.process(&id, delivery.channel, now).await.unwrap(),
            Step::Delivered
        );
    }
    // Replaying every trigger sends nothing again.
    for delivery in deliveries(&w, &id).await {
        assert_eq!(
            d.process(&id, delivery.channel, now).await.unwrap(),
            Step::Skipped
        );
    }
    assert_eq!(
        d.sweep(now + 10_000)
            .await
            .unwrap()
            .iter()
            .filter(|(_, _, s)| *s != Step::Skipped)
            .count(),
        0
    );
    for p in [
        "/api/chat.postMessage",
        "/rest/api/3/issue",
        GITHUB_DISPATCH_PATH,
        GITLAB_TRIGGER_PATH,
        WEBHOOK_PATH,
    ] {
        assert_eq!(w.received(p).await, 1, "{p}");
    }
    let all = deliveries(&w, &id).await;
    assert!(
        all.iter()
            .all(|d| d.status == DeliveryStatus::Delivered && d.attempts.len() == 1)
    );
    let jira = all.iter().find(|d| d.channel == Channel::Jira).unwrap();
    assert_eq!(jira.external_id.as_deref(), Some("OPS-1"));
    // The Jira issue carries the policy summary line.
    let requests = w.server.received_requests().await.unwrap();
    let issue = requests
        .iter()
        .find(|r| r.url.path() == "/rest/api/3/issue")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&issue.body).unwrap();
    assert_eq!(
        body["fields"]["summary"],
        "[Valdrix Policy BLOCK] ec2.terminate on i-0abc"
    );
    // Every outcome is an audit event; the chain still verifies; no secret leaked.
    let (events, _) = w
        .state
        .audit
        .page(&w.tenant, 200, None, false)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "policy.delivery_delivered")
            .count(),
        5
    );
    assert!(w.state.audit.verify(&w.tenant).await.unwrap().is_ok());
    let text = serde_json::to_string(&events).unwrap() + &serde_json::to_string(&all).unwrap();
    for secret in w.secrets() {
        assert!(!text.contains(&secret), "a secret reached the record");
    }
}

#[tokio::test]
async fn a_target_failing_twice_then_succeeding_is_delivered_exactly_once() {
    valdrix_shared::metrics::capture();
    let w = world().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&w.server)
        .await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(ResponseTemplate::new(200))
        .mount(&w.server)
        .await;
    let id = accept_block(&w).await;
    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let d = dispatcher(&w, &sender, &dead);
    let mut now = chrono::Utc::now().timestamp();
    assert_eq!(
        d.process(&id, Channel::Webhook, now).await.unwrap(),
        Step::Retrying
    );
    // Not due yet: nothing happens.
    assert_eq!(
        d.process(&id, Channel::Webhook, now).await.unwrap(),
        Step::Skipped
    );
    now += 1000;
    assert_eq!(
        d.process(&id, Channel::Webhook, now).await.unwrap(),
        Step::Retrying
    );
    now += 1000;
    let swept = d.sweep(now).await.unwrap();
    assert!(
        swept
            .iter()
            .any(|(e, c, s)| e == &id && *c == Channel::Webhook && *s == Step::Delivered),
        "{swept:?}"
    );
    now += 1000;
    assert!(
        d.sweep(now)
            .await
            .unwrap()
            .iter()
            .all(|(e, c, s)| !(e == &id && *c == Channel::Webhook) || *s == Step::Skipped)
    );
    let webhook = delivery_to(&w, &id, Channel::Webhook).await;
    assert_eq!(webhook.status, DeliveryStatus::Delivered);
    let outcomes: Vec<&str> = webhook
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["retryable_failure", "retryable_failure", "delivered"]
    );
    let ok = w
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == WEBHOOK_PATH)
        .count();
    assert_eq!(ok, 3, "two failures and one success, nothing more");

    // One metric line per attempt, each an EMF document the alarms read.
    let webhook_metrics: Vec<String> = delivery_metrics(&id, "webhook");
    assert_eq!(
        webhook_metrics,
        [
            "DeliveriesRetried",
            "DeliveriesRetried",
            "DeliveriesDelivered"
        ]
    );
    // The sweep that found the retry due measured how late it was.
    let ages: Vec<f64> = valdrix_shared::metrics::captured()
        .iter()
        .filter(|l| l["Service"] == "dispatcher" && !l["DispatchBacklogAgeSeconds"].is_null())
        .map(|l| l["DispatchBacklogAgeSeconds"].as_f64().unwrap())
        .collect();
    assert!(ages.iter().any(|a| *a > 0.0), "{ages:?}");
}

/// The delivery metrics (by name, in order) emitted for one event's channel.
fn delivery_metrics(event_id: &str, channel: &str) -> Vec<String> {
    valdrix_shared::metrics::captured()
        .iter()
        .filter(|l| {
            l["Service"] == "dispatcher" && l["event_id"] == event_id && l["channel"] == channel
        })
        .map(|l| {
            let names = &l["_aws"]["CloudWatchMetrics"][0]["Metrics"];
            assert_eq!(names.as_array().unwrap().len(), 1, "{l}");
            let name = names[0]["Name"].as_str().unwrap().to_owned();
            assert_eq!(l[name.as_str()], 1.0, "{l}");
            assert_eq!(
                l["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([["Service"]])
            );
            name
        })
        .collect()
}

#[tokio::test]
async fn a_target_that_always_fails_ends_dead_with_every_attempt_recorded() {
    valdrix_shared::metrics::capture();
    let w = world().await;
    Mock::given(method("POST"))
        .and(path(GITLAB_TRIGGER_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"message": "slow down"})),
        )
        .mount(&w.server)
        .await;
    let id = accept_block(&w).await;
    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let d = dispatcher(&w, &sender, &dead);
    let start = chrono::Utc::now().timestamp();
    let mut now = start;
    let mut steps = vec![d.process(&id, Channel::GitlabCi, now).await.unwrap()];
    while *steps.last().unwrap() == Step::Retrying {
        let delivery = delivery_to(&w, &id, Channel::GitlabCi).await;
        let due = delivery.due_at.unwrap();
        assert!(due >= now + 7, "Retry-After was not honoured");
        now = due;
        steps.push(d.process(&id, Channel::GitlabCi, now).await.unwrap());
    }
    assert_eq!(steps.len() as u32, MAX_ATTEMPTS);
    assert_eq!(*steps.last().unwrap(), Step::Dead);
    let mut expected = vec!["DeliveriesRetried"; MAX_ATTEMPTS as usize - 1];
    expected.push("DeliveriesDead");
    assert_eq!(delivery_metrics(&id, "gitlab_ci"), expected);
    let gitlab = delivery_to(&w, &id, Channel::GitlabCi).await;
    assert_eq!(gitlab.status, DeliveryStatus::Dead);
    assert_eq!(gitlab.attempts.len() as u32, MAX_ATTEMPTS);
    assert!(gitlab.attempts.iter().all(|a| a.status_code == Some(429)));
    // It is in the dead-letter queue, and a later sweep never sends it again.
    let mut q = Query::new("DEADLETTER", SortKey::All);
    q.limit = 100;
    let parked = w.state.store.query(q).await.unwrap().items;
    assert!(
        parked
            .iter()
            .any(|i| i["delivery"]["delivery_id"] == format!("{id}:gitlab_ci"))
    );
    d.sweep(now + 100_000).await.unwrap();
    assert_eq!(w.received(GITLAB_TRIGGER_PATH).await as u32, MAX_ATTEMPTS);

    // The operator fixes the target and redrives it: the next sweep sends it
    // once more, with the same idempotency key, and it is delivered.
    w.server.reset().await;
    Mock::given(method("POST"))
        .and(path(GITLAB_TRIGGER_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 77})))
        .mount(&w.server)
        .await;
    now += 100_000;
    let redriven = redrive(
        w.state.store.as_ref(),
        &w.state.audit,
        &id,
        Channel::GitlabCi,
        now,
    )
    .await;
    assert_eq!(redriven.unwrap(), Redrive::Redriven);
    let again = redrive(
        w.state.store.as_ref(),
        &w.state.audit,
        &id,
        Channel::GitlabCi,
        now,
    )
    .await;
    assert_eq!(
        again.unwrap(),
        Redrive::NotDead(DeliveryStatus::Retrying),
        "a second redrive changes nothing"
    );
    let swept = d.sweep(now).await.unwrap();
    assert!(
        swept
            .iter()
            .any(|(e, c, s)| e == &id && *c == Channel::GitlabCi && *s == Step::Delivered),
        "{swept:?}"
    );
    let gitlab = delivery_to(&w, &id, Channel::GitlabCi).await;
    assert_eq!(gitlab.status, DeliveryStatus::Delivered);
    assert_eq!(gitlab.attempts.len() as u32, MAX_ATTEMPTS + 1);
    assert_eq!(gitlab.redriven_after, MAX_ATTEMPTS);
    assert_eq!(
        w.received(GITLAB_TRIGGER_PATH).await,
        1,
        "one send after the redrive"
    );
    let (events, _) = w
        .state
        .audit
        .page(&w.tenant, 100, None, true)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event_type == "policy.delivery_redriven")
    );
}

#[tokio::test]
async fn a_redriven_delivery_gets_a_fresh_budget_of_attempts() {
    let w = world().await;
    Mock::given(method("POST"))
        .and(path(GITLAB_TRIGGER_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&w.server)
        .await;
    let id = accept_block(&w).await;
    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let d = dispatcher(&w, &sender, &dead);
    let mut now = chrono::Utc::now().timestamp();
    let mut rounds = 0;
    for _ in 0..2 {
        let mut steps = vec![d.process(&id, Channel::GitlabCi, now).await.unwrap()];
        while *steps.last().unwrap() == Step::Retrying {
            now = delivery_to(&w, &id, Channel::GitlabCi)
                .await
                .due_at
                .unwrap();
            steps.push(d.process(&id, Channel::GitlabCi, now).await.unwrap());
        }
        assert_eq!(steps.len() as u32, MAX_ATTEMPTS, "{steps:?}");
        assert_eq!(*steps.last().unwrap(), Step::Dead);
        rounds += 1;
        if rounds == 1 {
            let r = redrive(
                w.state.store.as_ref(),
                &w.state.audit,
                &id,
                Channel::GitlabCi,
                now,
            );
            assert_eq!(r.await.unwrap(), Redrive::Redriven);
        }
    }
    let gitlab = delivery_to(&w, &id, Channel::GitlabCi).await;
    assert_eq!(gitlab.attempts.len() as u32, 2 * MAX_ATTEMPTS);
    let missing = redrive(
        w.state.store.as_ref(),
        &w.state.audit,
        "no-such-event",
        Channel::GitlabCi,
        now,
    );
    assert_eq!(missing.await.unwrap(), Redrive::Missing);
}

/// Sends for real, then never returns: the worker "crashes" before recording.
struct CrashAfterSend(NotifySender);

#[async_trait]
impl Sender for CrashAfterSend {
    async fn send(&self, event: &PolicyEvent, delivery: &Delivery) -> CallResult {
        let _sent = self.0.send(event, delivery).await;
        std::future::pending::<CallResult>().await
    }
}

/// A worker that sends `channel`'s delivery for real and dies before recording it.
async fn crash_after_sending(w: &FakeWorld, id: &str, channel: Channel, now: i64) {
    let dead = StoreDeadLetters(w.state.store.clone());
    let crashing = CrashAfterSend(NotifySender(w.state.notifying()));
    let crashed = tokio::time::timeout(
        Duration::from_secs(3),
        dispatcher(w, &crashing, &dead).process(id, channel, now),
    )
    .await;
    assert!(crashed.is_err(), "the worker died after sending");
}

#[tokio::test]
async fn a_crash_between_send_and_record_loses_nothing_and_duplicates_nothing_for_a_deduping_receiver()
 {
    let w = world().await;
    w.all_succeed().await;
    let id = accept_block(&w).await;
    let dead = StoreDeadLetters(w.state.store.clone());
    let now = chrono::Utc::now().timestamp();
    crash_after_sending(&w, &id, Channel::Webhook, now).await;
    let webhook = delivery_to(&w, &id, Channel::Webhook).await;
    assert_eq!(webhook.status, DeliveryStatus::InFlight);

    // The claim lapses; the sweep takes the delivery over and finishes it.
    let sender = NotifySender(w.state.notifying());
    let d = dispatcher(&w, &sender, &dead);
    let swept = d.sweep(now + 61).await.unwrap();
    assert!(
        swept
            .iter()
            .any(|(e, c, s)| e == &id && *c == Channel::Webhook && *s == Step::Delivered),
        "{swept:?}"
    );
    let webhook = delivery_to(&w, &id, Channel::Webhook).await;
    assert_eq!(webhook.status, DeliveryStatus::Delivered);

    // Two requests reached the receiver, both with the same webhook-id: a
    // receiver that dedups on it acts once.
    let ids: Vec<String> = w
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == WEBHOOK_PATH)
        .map(|r| {
            r.headers
                .get("webhook-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], format!("{id}:webhook"));
}

/// Sends only once `n` sends are in flight at the same time.
struct AllAtOnce(NotifySender, tokio::sync::Barrier);

#[async_trait]
impl Sender for AllAtOnce {
    async fn send(&self, event: &PolicyEvent, delivery: &Delivery) -> CallResult {
        self.1.wait().await;
        self.0.send(event, delivery).await
    }
}

#[tokio::test]
async fn an_events_targets_are_sent_side_by_side_by_a_trigger_and_by_the_sweep() {
    let w = world().await;
    w.all_succeed().await;
    let dead = StoreDeadLetters(w.state.store.clone());
    let now = chrono::Utc::now().timestamp();

    // A trigger: every target of the event at once, or the barrier never opens.
    let id = accept_block(&w).await;
    let channels: Vec<Channel> = deliveries(&w, &id)
        .await
        .iter()
        .map(|d| d.channel)
        .collect();
    assert_eq!(channels.len(), 5, "every integration is configured");
    let sender = AllAtOnce(
        NotifySender(w.state.notifying()),
        tokio::sync::Barrier::new(5),
    );
    let asked: Vec<(String, Channel)> = channels.iter().map(|c| (id.clone(), *c)).collect();
    let done = tokio::time::timeout(
        Duration::from_secs(20),
        dispatcher(&w, &sender, &dead).process_all(asked.clone(), now),
    )
    .await
    .expect("the five sends were not in flight together");
    let answered: Vec<(String, Channel)> = done.iter().map(|(e, c, _)| (e.clone(), *c)).collect();
    assert_eq!(answered, asked, "answers come in the order asked");
    assert!(
        done.iter()
            .all(|(_, _, s)| matches!(s, Ok(Step::Delivered))),
        "{done:?}"
    );

    // The sweep: the deliveries no trigger took, side by side as well.
    let id = accept_block(&w).await;
    let swept = tokio::time::timeout(
        Duration::from_secs(20),
        dispatcher(&w, &sender, &dead).sweep(now + 10_000),
    )
    .await
    .expect("the sweep sent one target after another")
    .unwrap();
    let delivered = swept
        .iter()
        .filter(|(e, _, s)| e == &id && *s == Step::Delivered);
    assert_eq!(delivered.count(), 5, "{swept:?}");
    assert!(
        deliveries(&w, &id)
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    );
}

/// Jira's search answers with issue OPS-1 from now on.
async fn jira_search_finds_ops_1(w: &FakeWorld) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"issues": [{"id": "10001", "key": "OPS-1"}], "isLast": true}),
            ),
        )
        .mount(&w.server)
        .await;
}

/// Jira takes no idempotency key: when an attempt timed out after Jira had
/// created the issue, the retry finds it by the delivery's label instead of
/// opening a second one.
#[tokio::test]
async fn a_jira_retry_after_a_timeout_finds_the_issue_instead_of_opening_another() {
    let w = world().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": "10001", "key": "OPS-1"}))
                .set_delay(Duration::from_secs(4)),
        )
        .mount(&w.server)
        .await;
    let id = accept_block(&w).await;
    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let d = dispatcher(&w, &sender, &dead);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        d.process(&id, Channel::Jira, now).await.unwrap(),
        Step::Retrying,
        "the client gave up after 2 s"
    );
    let created = w.received("/rest/api/3/issue").await;
    assert_eq!(created, 1, "Jira got the create (and made the issue)");

    // Jira's search now finds the issue the timed-out attempt created.
    let jira = delivery_to(&w, &id, Channel::Jira).await;
    jira_search_finds_ops_1(&w).await;
    let due = jira.due_at.expect("a retry is due");
    assert_eq!(
        d.process(&id, Channel::Jira, due).await.unwrap(),
        Step::Delivered
    );
    assert_eq!(w.received("/rest/api/3/issue").await, 1, "no second issue");
    assert_eq!(w.received("/rest/api/3/search/jql").await, 1);
    let jira = delivery_to(&w, &id, Channel::Jira).await;
    assert_eq!(jira.status, DeliveryStatus::Delivered);
    assert_eq!(jira.external_id.as_deref(), Some("OPS-1"));
    assert_eq!(jira.attempts.len(), 2);
}

/// A worker that dies after Jira created the issue records no attempt; the
/// sweep's resend knows from the unrecorded claim to search first.
#[tokio::test]
async fn a_jira_resend_after_a_dead_worker_finds_the_issue_instead_of_opening_another() {
    let w = world().await;
    w.all_succeed().await;
    jira_search_finds_ops_1(&w).await;
    let id = accept_block(&w).await;
    let dead = StoreDeadLetters(w.state.store.clone());
    let now = chrono::Utc::now().timestamp();
    crash_after_sending(&w, &id, Channel::Jira, now).await;
    assert_eq!(w.received("/rest/api/3/issue").await, 1);
    assert_eq!(
        w.received("/rest/api/3/search/jql").await,
        0,
        "a first try does not search"
    );

    let sender = NotifySender(w.state.notifying());
    let swept = dispatcher(&w, &sender, &dead)
        .sweep(now + 61)
        .await
        .unwrap();
    assert!(
        swept
            .iter()
            .any(|(e, c, s)| e == &id && *c == Channel::Jira && *s == Step::Delivered),
        "{swept:?}"
    );
    assert_eq!(w.received("/rest/api/3/issue").await, 1, "no second issue");
    assert_eq!(w.received("/rest/api/3/search/jql").await, 1);
    let jira = delivery_to(&w, &id, Channel::Jira).await;
    assert_eq!(jira.external_id.as_deref(), Some("OPS-1"));
    assert_eq!((jira.claims, jira.attempts.len()), (2, 1));
}
