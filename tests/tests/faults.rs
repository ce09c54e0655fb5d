//! Fault injection end to end, over every function's routes on the one router
//! `valdrix serve` serves: the store (a DynamoDB Local of the test's own, on
//! disk) killed between requests and in the middle of multi-step operations,
//! receivers that hang, and receivers that throttle with `Retry-After`. Each
//! fault answers its documented status (docs/faults.md), leaves nothing
//! partial in the store, and loses no policy delivery.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use http::Method;
use serde_json::{Value, json};
use support::{Answer, Req, app, block_event, send, with_pack_store};
use valdrix_shared::config::StoreUrl;
use valdrix_shared::idempotency;
use valdrix_shared::policy::deadletter::StoreDeadLetters;
use valdrix_shared::policy::dispatch::{DispatchError, Dispatcher, Step};
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::policy::{self, Channel, Delivery, DeliveryStatus};
use valdrix_shared::store::{self, Condition, Query, SortKey, StoreError};
use valdrix_tests::{
    ADMIN_API_KEY, FakeWorld, GITHUB_DISPATCH_PATH, GITLAB_TRIGGER_PATH, PrivateDynamo,
    WEBHOOK_PATH, dynamo_store, unique,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SLACK_PATH: &str = "/api/chat.postMessage";
const JIRA_PATH: &str = "/rest/api/3/issue";
const ALL_PATHS: [&str; 5] = [
    SLACK_PATH,
    JIRA_PATH,
    GITHUB_DISPATCH_PATH,
    GITLAB_TRIGGER_PATH,
    WEBHOOK_PATH,
];
const SETTINGS: &str = "/api/v1/settings/notifications";
const CAPTURE: &str = "/api/v1/settings/notifications/acceptance-evidence/capture";
const POLICY: &str = "/api/v1/policy/events";

/// Every item of a DynamoDB table, keyed by (pk, sk): what the store holds,
/// read around the application's own code.
async fn table_dump(endpoint: &str, table: &str) -> BTreeMap<(String, String), Value> {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "faults"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let mut items = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the table");
        for item in page.items() {
            let value = Value::Object(item.iter().map(|(k, v)| (k.clone(), plain(v))).collect());
            let key = |k: &str| value[k].as_str().unwrap_or_default().to_owned();
            items.insert((key("pk"), key("sk")), value);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

fn plain(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!(s),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        }
        AttributeValue::L(l) => Value::Array(l.iter().map(plain).collect()),
        other => json!(format!("{other:?}")),
    }
}

/// The (pk, sk) keys that differ between two dumps.
fn changed(
    before: &BTreeMap<(String, String), Value>,
    after: &BTreeMap<(String, String), Value>,
) -> Vec<(String, String)> {
    let mut keys: Vec<_> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| before.get(k) != after.get(k));
    keys
}

async fn deliveries(world: &FakeWorld, event_id: &str) -> Vec<Delivery> {
    policy::load_state(world.state.store.as_ref(), event_id)
        .await
        .expect("store readable")
        .expect("event stored")
        .deliveries
        .into_iter()
        .map(|(d, _)| d)
        .collect()
}

fn delivery(all: &[Delivery], channel: Channel) -> &Delivery {
    all.iter()
        .find(|d| d.channel == channel)
        .unwrap_or_else(|| panic!("no {channel} delivery in {all:?}"))
}

/// The due-index entries (sort keys) that point at `event_id`.
async fn due_entries(world: &FakeWorld, event_id: &str) -> Vec<String> {
    let mut q = Query::new("DUE", SortKey::All);
    q.limit = 1000;
    let page = world.state.store.query(q).await.expect("due index");
    page.items
        .iter()
        .filter(|i| i["event_id"] == event_id)
        .filter_map(|i| i["sk"].as_str().map(str::to_owned))
        .collect()
}

async fn received(world: &FakeWorld) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for p in ALL_PATHS {
        counts.insert(p, world.received(p).await);
    }
    counts
}

/// `webhook-id`s the webhook receiver saw, in order.
async fn webhook_ids(world: &FakeWorld) -> Vec<String> {
    world
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == WEBHOOK_PATH)
        .filter_map(|r| {
            r.headers
                .get("webhook-id")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect()
}

fn assert_store_unavailable(name: &str, answer: &Answer, took: Duration) {
    assert_eq!(answer.status, 503, "{name}: {}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{name}"
    );
    let body = answer.json();
    assert_eq!(body["status"], 503, "{name}");
    assert_eq!(body["detail"], "store unavailable", "{name}");
    assert_eq!(answer.header("retry-after"), Some("5"), "{name}");
    let text = answer.text().to_lowercase();
    for raw in ["127.0.0.1", "dynamodb", "connect", "dispatch failure"] {
        assert!(!text.contains(raw), "{name}: raw error text in {text}");
    }
    assert!(
        took < Duration::from_secs(8),
        "{name}: an outage must answer in seconds, took {took:?}"
    );
}

async fn ok_audit_chain(world: &FakeWorld, tenant: &str) {
    let verification = world.state.audit.verify(tenant).await.expect("verify");
    assert!(verification.is_ok(), "{tenant}: {verification:?}");
}

struct Outage {
    dynamo: PrivateDynamo,
    table: String,
    world: FakeWorld,
    app: axum::Router,
    _packs: tempfile::TempDir,
}

impl Outage {
    async fn dump(&self) -> BTreeMap<(String, String), Value> {
        table_dump(&self.dynamo.endpoint(), &self.table).await
    }
}

fn dispatcher<'a>(
    world: &'a FakeWorld,
    sender: &'a NotifySender,
    dead: &'a StoreDeadLetters,
) -> Dispatcher<'a> {
    Dispatcher {
        store: world.state.store.as_ref(),
        audit: &world.state.audit,
        sender,
        dead_letters: dead,
    }
}

async fn outage_world() -> Outage {
    let dynamo = PrivateDynamo::start_persistent().await;
    let table = unique("faults");
    let url = StoreUrl::DynamoDb {
        table: table.clone(),
        endpoint: Some(dynamo.endpoint()),
        region: Some("us-east-1".into()),
    };
    let store = store::open(&url).await.expect("open the store");
    store.ensure_table().await.expect("create the table");
    let mut world = FakeWorld::new(store, Duration::from_secs(5)).await;
    let packs = tempfile::tempdir().expect("pack dir");
    with_pack_store(&mut world, packs.path());
    let app = app(world.state.clone());
    Outage {
        dynamo,
        table,
        world,
        app,
        _packs: packs,
    }
}

#[tokio::test]
async fn a_store_outage_answers_503_leaves_nothing_partial_and_loses_no_delivery() {
    let mut o = outage_world().await;
    between_requests(&mut o).await;
    during_operations(&mut o).await;
}

/// The store is down for a whole round of write requests (one per write
/// route family) and reads: each answers 503 problem+json; back up, the table
/// is exactly as before, and the same requests then succeed.
async fn between_requests(o: &mut Outage) {
    let w = &o.world;
    w.all_succeed().await;
    let tenant = w.tenant.clone();
    let owner = w.token("owner");
    let (_, settings_version) = valdrix_shared::settings::load(w.state.store.as_ref(), &tenant)
        .await
        .unwrap();
    let event_id = unique("evt");
    let new_tenant = unique("beta");
    let writes: Vec<(&str, Req, u16)> = vec![
        (
            "settings PUT",
            Req::new(Method::PUT, SETTINGS)
                .bearer(&owner)
                .json(&json!({"slack_channel_override": "#ops"})),
            200,
        ),
        (
            "evidence capture",
            Req::new(Method::POST, CAPTURE)
                .bearer(&owner)
                .header("idempotency-key", "capture-1"),
            200,
        ),
        (
            "notification test",
            Req::new(Method::POST, "/api/v1/settings/notifications/test-slack").bearer(&owner),
            200,
        ),
        (
            "policy event",
            Req::new(Method::POST, POLICY)
                .admin(ADMIN_API_KEY)
                .json(&block_event(&event_id, &tenant)),
            202,
        ),
        (
            "tenant create",
            Req::new(Method::POST, "/api/v1/admin/tenants")
                .admin(ADMIN_API_KEY)
                .json(&json!({"id": new_tenant, "name": "Beta", "tier": "starter"})),
            201,
        ),
        (
            "tier change",
            Req::new(Method::PUT, format!("/api/v1/admin/tenants/{tenant}/tier"))
                .admin(ADMIN_API_KEY)
                .json(&json!({"tier": "enterprise"})),
            200,
        ),
        (
            "member put",
            Req::new(
                Method::PUT,
                format!("/api/v1/admin/tenants/{tenant}/members/{tenant}-admin"),
            )
            .admin(ADMIN_API_KEY)
            .json(&json!({"role": "admin", "email": "admin@acme.example"})),
            200,
        ),
        (
            "member delete",
            Req::new(
                Method::DELETE,
                format!("/api/v1/admin/tenants/{tenant}/members/{tenant}-member"),
            )
            .admin(ADMIN_API_KEY),
            204,
        ),
        (
            "remediation",
            Req::new(
                Method::POST,
                format!("/api/v1/admin/tenants/{tenant}/remediations"),
            )
            .admin(ADMIN_API_KEY)
            .json(
                &json!({"id": "rem-1", "action": "stop_idle_instance", "resource_id": "i-0abc",
                "provider": "aws", "status": "proposed", "estimated_monthly_savings": "120.00"}),
            ),
            201,
        ),
        (
            "compliance pack",
            Req::get("/api/v1/audit/compliance-pack")
                .bearer(&owner)
                .header("accept", "application/json"),
            200,
        ),
    ];
    let reads = [
        ("settings GET", Req::get(SETTINGS).bearer(&owner)),
        ("me", Req::get("/api/v1/me").bearer(&owner)),
        (
            "policy event GET",
            Req::get(format!("{POLICY}/{event_id}")).admin(ADMIN_API_KEY),
        ),
        (
            "evidence list",
            Req::get("/api/v1/settings/notifications/acceptance-evidence").bearer(&owner),
        ),
        (
            "tenant GET",
            Req::get(format!("/api/v1/admin/tenants/{tenant}")).admin(ADMIN_API_KEY),
        ),
    ];

    let before = o.dump().await;
    let sent_before = received(w).await;
    o.dynamo.stop();
    // All at once: each waits out the store client's retry on its own.
    let mut calls = tokio::task::JoinSet::new();
    let requests = writes.iter().map(|(name, req, _)| (name, req));
    for (name, req) in requests.chain(reads.iter().map(|(name, req)| (name, req))) {
        let (app, name, req) = (o.app.clone(), name.to_string(), req.clone());
        calls.spawn(async move {
            let started = Instant::now();
            let answer = send(&app, &req).await;
            (name, answer, started.elapsed())
        });
    }
    while let Some(done) = calls.join_next().await {
        let (name, answer, took) = done.expect("call");
        assert_store_unavailable(&name, &answer, took);
    }
    // Health reports the outage in its own JSON, not as a problem.
    let health = send(&o.app, &Req::get("/health")).await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["checks"]["store"]["status"], "down");
    assert_eq!(received(w).await, sent_before, "nothing was sent");

    o.dynamo.restart().await;
    let after = o.dump().await;
    assert_eq!(
        changed(&before, &after),
        Vec::<(String, String)>::new(),
        "a failed request wrote something"
    );
    ok_audit_chain(w, &tenant).await;

    // The same requests again (the same Idempotency-Key too) now succeed.
    for (name, req, status) in &writes {
        let answer = send(&o.app, req).await;
        assert_eq!(answer.status, *status, "{name} retried: {}", answer.text());
    }
    let (_, version) = valdrix_shared::settings::load(w.state.store.as_ref(), &tenant)
        .await
        .unwrap();
    assert_eq!(version, settings_version + 1, "exactly one settings save");
    let accepted = deliveries(w, &event_id).await;
    assert_eq!(accepted.len(), 5, "one delivery per target: {accepted:?}");
    assert!(accepted.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert_eq!(due_entries(w, &event_id).await.len(), 5);
    let (events, _) = w.state.audit.page(&tenant, 500, None, true).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "policy.accepted")
            .count(),
        1
    );
    ok_audit_chain(w, &tenant).await;
    ok_audit_chain(w, &new_tenant).await;

    // Accepted after the outage, it is delivered like any other.
    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let later = chrono::Utc::now().timestamp() + policy::due::SAFETY_NET_SECONDS;
    dispatcher(w, &sender, &dead)
        .sweep(later)
        .await
        .expect("sweep");
    assert!(
        deliveries(w, &event_id)
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    );
}

/// The store dies while three multi-step operations wait on a receiver —
/// an evidence capture, a workflow test call and a policy delivery — and with
/// a policy event accepted but not yet dispatched. Each operation answers
/// 503 (or the dispatcher an error); back up, nothing but the documented
/// leftovers (the in-flight claim, the capture's idempotency claim) changed,
/// and the sweep delivers every accepted event to every target.
async fn during_operations(o: &mut Outage) {
    let w = &o.world;
    let tenant = w.tenant.clone();
    let owner = w.token("owner");
    // The webhook receiver holds its next three requests long enough for the
    // store to die meanwhile.
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .with_priority(1)
        .up_to_n_times(3)
        .mount(&w.server)
        .await;
    let pending = unique("evt");
    let in_flight = unique("evt");
    for id in [&pending, &in_flight] {
        let answer = send(
            &o.app,
            &Req::new(Method::POST, POLICY)
                .admin(ADMIN_API_KEY)
                .json(&block_event(id, &tenant)),
        )
        .await;
        assert_eq!(answer.status, 202, "{}", answer.text());
    }
    let accepted_due = delivery(&deliveries(w, &in_flight).await, Channel::Webhook)
        .due_at
        .expect("a pending delivery has its safety-net due time");
    let before = o.dump().await;
    let head_before = w.state.audit.head(&tenant).await.unwrap();
    let webhooks_before = w.received(WEBHOOK_PATH).await;

    let sender = NotifySender(w.state.notifying());
    let dead = StoreDeadLetters(w.state.store.clone());
    let dispatcher = dispatcher(w, &sender, &dead);
    let capture = Req::new(Method::POST, CAPTURE)
        .bearer(&owner)
        .header("idempotency-key", "capture-2")
        .json(&json!({"include_slack": false, "include_jira": false}));
    let test_workflow =
        Req::new(Method::POST, "/api/v1/settings/notifications/test-workflow").bearer(&owner);
    let claimed_at = chrono::Utc::now().timestamp();
    let dynamo = &mut o.dynamo;
    let server = &w.server;
    let (captured, tested, dispatched, ()) = tokio::join!(
        send(&o.app, &capture),
        send(&o.app, &test_workflow),
        dispatcher.process(&in_flight, Channel::Webhook, claimed_at),
        async {
            let deadline = Instant::now() + Duration::from_secs(10);
            while count(server, WEBHOOK_PATH).await < webhooks_before + 3 {
                assert!(Instant::now() < deadline, "the three calls never arrived");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            dynamo.stop();
        }
    );
    assert_store_unavailable("capture, store lost mid-run", &captured, Duration::ZERO);
    assert_store_unavailable("test call, store lost mid-run", &tested, Duration::ZERO);
    assert!(
        matches!(
            dispatched,
            Err(DispatchError::Store(StoreError::Unavailable(_)))
        ),
        "{dispatched:?}"
    );

    o.dynamo.restart().await;
    let after = o.dump().await;
    let due_sk = |at: i64| format!("{at:012}#{in_flight}#webhook");
    let mut expected = vec![
        ("DUE".to_owned(), due_sk(accepted_due)),
        (
            "DUE".to_owned(),
            due_sk(claimed_at + policy::dispatch::CLAIM_SECONDS),
        ),
        (
            format!("IDEMPOTENCY#{tenant}#evidence-capture#capture-2"),
            "-".to_owned(),
        ),
        (format!("POLICY#{in_flight}"), "DELIVERY#webhook".to_owned()),
    ];
    expected.sort();
    assert_eq!(
        changed(&before, &after),
        expected,
        "only the claim moved and the capture's key is held"
    );
    assert_eq!(
        w.state.audit.head(&tenant).await.unwrap(),
        head_before,
        "no audit event for work whose record failed"
    );
    ok_audit_chain(w, &tenant).await;
    let webhook = delivery(&deliveries(w, &in_flight).await, Channel::Webhook).clone();
    assert_eq!(webhook.status, DeliveryStatus::InFlight);
    assert!(webhook.attempts.is_empty());
    assert!(
        deliveries(w, &pending)
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Pending)
    );

    // The test call is simply run again. The capture's key stays claimed
    // until the claim lapses (docs/faults.md); a fresh key runs at once.
    let again = send(&o.app, &test_workflow).await;
    assert_eq!(again.status, 200, "{}", again.text());
    let held = send(&o.app, &capture).await;
    assert_eq!(held.status, 409, "{}", held.text());
    let mut fresh = capture.clone();
    fresh.headers.retain(|(n, _)| n != "idempotency-key");
    let fresh = send(&o.app, &fresh.header("idempotency-key", "capture-3")).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    // Once the claim is older than the lapse time, the same key runs again.
    let claim_pk = format!("IDEMPOTENCY#{tenant}#evidence-capture#capture-2");
    let mut claim = w
        .state
        .store
        .get(&claim_pk, "-")
        .await
        .unwrap()
        .expect("claim");
    let lapsed = claim["claimed_at"].as_i64().unwrap() - idempotency::STALE_CLAIM_SECONDS - 1;
    claim.insert("claimed_at".into(), lapsed.into());
    w.state.store.put(claim, Condition::None).await.unwrap();
    let retried = send(&o.app, &capture).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.header("idempotent-replayed"), None);
    let replayed = send(&o.app, &capture).await;
    assert_eq!(replayed.status, 200);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.json()["run_id"], retried.json()["run_id"]);

    // No delivery is lost: the sweep finds the pending ones (safety net) and
    // the lapsed claim, and each target gets each event.
    let sent_before = received(w).await;
    let later = claimed_at + policy::due::SAFETY_NET_SECONDS + 1;
    dispatcher.sweep(later).await.expect("sweep");
    for id in [&pending, &in_flight] {
        let all = deliveries(w, id).await;
        assert_eq!(all.len(), 5);
        for d in &all {
            assert_eq!(d.status, DeliveryStatus::Delivered, "{d:?}");
            assert_eq!(d.attempts.len(), 1, "{d:?}");
        }
        assert!(
            due_entries(w, id).await.is_empty(),
            "{id}: due entries left"
        );
    }
    let sent_after = received(w).await;
    for p in ALL_PATHS {
        assert_eq!(sent_after[p], sent_before[p] + 2, "{p}: one per event");
    }
    // The interrupted delivery went out again under the same idempotency key.
    let ids = webhook_ids(w).await;
    let key = format!("{in_flight}:webhook");
    assert_eq!(ids.iter().filter(|i| **i == key).count(), 2, "{ids:?}");
    assert_eq!(
        ids.iter()
            .filter(|i| **i == format!("{pending}:webhook"))
            .count(),
        1
    );
    // Nothing is due any more: a later sweep sends nothing.
    dispatcher.sweep(later + 100_000).await.expect("sweep");
    assert_eq!(received(w).await, sent_after);
    ok_audit_chain(w, &tenant).await;
}

async fn count(server: &wiremock::MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

/// A shared-emulator world whose outbound calls give up after one second.
async fn quick_world() -> (FakeWorld, axum::Router) {
    let world = FakeWorld::new(dynamo_store().await, Duration::from_secs(1)).await;
    let app = app(world.state.clone());
    (world, app)
}

/// Accept a block event through the route and try each delivery once at `now`.
async fn accept_and_dispatch(
    world: &FakeWorld,
    app: &axum::Router,
    now: i64,
) -> (String, BTreeMap<Channel, Step>) {
    let id = unique("evt");
    let answer = send(
        app,
        &Req::new(Method::POST, POLICY)
            .admin(ADMIN_API_KEY)
            .json(&block_event(&id, &world.tenant)),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    let sender = NotifySender(world.state.notifying());
    let dead = StoreDeadLetters(world.state.store.clone());
    let dispatcher = dispatcher(world, &sender, &dead);
    let mut steps = BTreeMap::new();
    for d in deliveries(world, &id).await {
        steps.insert(
            d.channel,
            dispatcher.process(&id, d.channel, now).await.unwrap(),
        );
    }
    (id, steps)
}

async fn sweep(world: &FakeWorld, now: i64) -> Vec<(String, Channel, Step)> {
    let sender = NotifySender(world.state.notifying());
    let dead = StoreDeadLetters(world.state.store.clone());
    dispatcher(world, &sender, &dead)
        .sweep(now)
        .await
        .expect("sweep")
}

/// Slack and the webhook hold their next two requests far beyond the client's
/// one-second timeout (a call that waited for them would take 10 s);
/// everything else answers at once.
const HANG: Duration = Duration::from_secs(10);

async fn hang(world: &FakeWorld) {
    for p in [SLACK_PATH, WEBHOOK_PATH] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_delay(HANG))
            .with_priority(1)
            .up_to_n_times(2)
            .mount(&world.server)
            .await;
    }
    world.all_succeed().await;
}

#[tokio::test]
async fn a_hanging_receiver_times_out_in_time_and_its_delivery_is_retried_not_lost() {
    let (w, app) = quick_world().await;
    hang(&w).await;
    let owner = w.token("owner");

    // Test calls give up after the client's timeout: 504 when every target
    // timed out, 207 when some answered.
    let started = Instant::now();
    let slack = send(
        &app,
        &Req::new(Method::POST, "/api/v1/settings/notifications/test-slack").bearer(&owner),
    )
    .await;
    assert!(started.elapsed() < HANG / 2, "{:?}", started.elapsed());
    assert_eq!(slack.status, 504, "{}", slack.text());
    assert_eq!(
        slack.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(slack.json()["targets"][0]["detail"], "timed out");
    let started = Instant::now();
    let workflow = send(
        &app,
        &Req::new(Method::POST, "/api/v1/settings/notifications/test-workflow").bearer(&owner),
    )
    .await;
    assert!(started.elapsed() < HANG / 2, "{:?}", started.elapsed());
    assert_eq!(workflow.status, 207, "{}", workflow.text());
    let targets = workflow.json()["targets"].clone();
    assert_eq!(targets[2]["target"], "webhook");
    assert_eq!(targets[2]["ok"], false);
    assert_eq!(targets[2]["retryable"], true);

    // A policy event: the hanging targets are retried later, the others delivered.
    let now = chrono::Utc::now().timestamp();
    let (id, steps) = accept_and_dispatch(&w, &app, now).await;
    for (channel, step) in &steps {
        let expected = if matches!(channel, Channel::Slack | Channel::Webhook) {
            Step::Retrying
        } else {
            Step::Delivered
        };
        assert_eq!(*step, expected, "{channel}");
    }
    let all = deliveries(&w, &id).await;
    let mut latest_due = now;
    for channel in [Channel::Slack, Channel::Webhook] {
        let d = delivery(&all, channel);
        assert_eq!(d.status, DeliveryStatus::Retrying, "{d:?}");
        assert_eq!(d.attempts[0].outcome, "retryable_failure");
        assert_eq!(d.attempts[0].detail, "timed out");
        let due = d.due_at.expect("a retry time");
        assert!(due > now);
        assert!(
            due_entries(&w, &id)
                .await
                .contains(&format!("{due:012}#{id}#{channel}")),
            "{channel}: no due entry"
        );
        latest_due = latest_due.max(due);
    }

    // The receivers recover; the sweep delivers the two, once each.
    sweep(&w, latest_due).await;
    let all = deliveries(&w, &id).await;
    for d in &all {
        assert_eq!(d.status, DeliveryStatus::Delivered, "{d:?}");
        let outcomes: Vec<&str> = d.attempts.iter().map(|a| a.outcome.as_str()).collect();
        let expected: &[&str] = if matches!(d.channel, Channel::Slack | Channel::Webhook) {
            &["retryable_failure", "delivered"]
        } else {
            &["delivered"]
        };
        assert_eq!(outcomes, expected, "{}", d.channel);
    }
    // Test call + hung delivery + delivery, or test call (workflow) + delivery.
    let counts = received(&w).await;
    assert_eq!(counts[SLACK_PATH], 3);
    assert_eq!(counts[WEBHOOK_PATH], 3);
    assert_eq!(counts[JIRA_PATH], 1);
    assert_eq!(counts[GITHUB_DISPATCH_PATH], 2);
    assert_eq!(counts[GITLAB_TRIGGER_PATH], 2);
    sweep(&w, latest_due + 100_000).await;
    assert_eq!(received(&w).await, counts, "nothing is sent twice");
    ok_audit_chain(&w, &w.tenant).await;
}

const RETRY_AFTER_SECONDS: i64 = 30;

#[tokio::test]
async fn a_throttling_receiver_is_retried_no_sooner_than_retry_after_and_delivered_once() {
    let (w, app) = quick_world().await;
    // Jira throttles the test call and the first delivery, then recovers.
    Mock::given(method("POST"))
        .and(path(JIRA_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", RETRY_AFTER_SECONDS.to_string().as_str())
                .set_body_json(json!({"errorMessages": ["rate limited"]})),
        )
        .with_priority(1)
        .up_to_n_times(2)
        .mount(&w.server)
        .await;
    w.all_succeed().await;

    let jira = send(
        &app,
        &Req::new(Method::POST, "/api/v1/settings/notifications/test-jira")
            .bearer(&w.token("owner")),
    )
    .await;
    assert_eq!(jira.status, 502, "{}", jira.text());
    assert_eq!(
        jira.header("content-type"),
        Some("application/problem+json")
    );
    let target = jira.json()["targets"][0].clone();
    assert_eq!(target["status_code"], 429, "{target}");
    assert_eq!(target["retryable"], true, "{target}");

    let now = chrono::Utc::now().timestamp();
    let (id, steps) = accept_and_dispatch(&w, &app, now).await;
    assert_eq!(steps[&Channel::Jira], Step::Retrying);
    assert!(
        steps
            .iter()
            .all(|(c, s)| *c == Channel::Jira || *s == Step::Delivered),
        "{steps:?}"
    );
    let throttled = delivery(&deliveries(&w, &id).await, Channel::Jira).clone();
    let due = throttled.due_at.expect("a retry time");
    assert!(
        due >= now + RETRY_AFTER_SECONDS,
        "retry at {due}, sooner than Retry-After allows ({now} + {RETRY_AFTER_SECONDS})"
    );
    assert_eq!(throttled.attempts[0].status_code, Some(429));
    assert_eq!(
        due_entries(&w, &id).await,
        vec![format!("{due:012}#{id}#jira")],
        "the due index holds exactly the retry"
    );

    // A second before it is due the sweep leaves it alone.
    let jira_calls = w.received(JIRA_PATH).await;
    sweep(&w, due - 1).await;
    assert_eq!(w.received(JIRA_PATH).await, jira_calls);
    assert_eq!(
        delivery(&deliveries(&w, &id).await, Channel::Jira).status,
        DeliveryStatus::Retrying
    );
    // When due, it goes out and succeeds; nothing goes out again after that.
    sweep(&w, due).await;
    let all = deliveries(&w, &id).await;
    for d in &all {
        assert_eq!(d.status, DeliveryStatus::Delivered, "{d:?}");
        assert_eq!(
            d.attempts
                .iter()
                .filter(|a| a.outcome == "delivered")
                .count(),
            1,
            "{d:?}"
        );
    }
    assert_eq!(delivery(&all, Channel::Jira).attempts.len(), 2);
    let counts = received(&w).await;
    // The test call, the throttled delivery and the successful one.
    assert_eq!(counts[JIRA_PATH], 3);
    for p in [
        SLACK_PATH,
        GITHUB_DISPATCH_PATH,
        GITLAB_TRIGGER_PATH,
        WEBHOOK_PATH,
    ] {
        assert_eq!(counts[p], 1, "{p}");
    }
    sweep(&w, due + 100_000).await;
    assert_eq!(received(&w).await, counts);
    ok_audit_chain(&w, &w.tenant).await;
}
