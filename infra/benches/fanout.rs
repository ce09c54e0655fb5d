//! Fan-out of one `block` policy event to five targets (Slack, Jira, GitHub
//! Actions, GitLab CI, signed webhook) that each answer after 300 ms.
//!
//!     cargo bench -p valdrix --bench fanout       # BENCH_FANOUT_REPS (5), BENCH_TARGET_DELAY_MS (300)
//!
//! The tenant's five integrations point at one loopback fake receiver
//! (`valdrix_tests::FakeWorld`, embedded SQLite store) whose every answer is
//! held for the delay; the receiver notes when each request arrives. Two
//! dispatch paths, both measured from the moment the event is accepted:
//! - `valdrix serve`: `POST /api/v1/policy/events` over HTTP with the
//!   in-process dispatch on (`inline_dispatch`), timed from the 202;
//! - Lambda: `policy::accept`, then the notification-dispatcher handler on one
//!   DynamoDB stream batch holding the five pending deliveries.
//!
//! Reported: first and last arrival at a target, the gap between successive
//! arrivals, and when all five deliveries are recorded `delivered`.
//! Concurrent sending would put all five arrivals near 0 ms and the end near
//! one delay; serial sending spaces the arrivals one delay apart.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use valdrix_shared::policy::deadletter::StoreDeadLetters;
use valdrix_shared::policy::dispatch::Dispatcher;
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::policy::{self, Accepted, DeliveryStatus, PolicyEventInput};
use valdrix_tests::{FakeWorld, GITHUB_DISPATCH_PATH, GITLAB_TRIGGER_PATH, WEBHOOK_PATH};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Respond, ResponseTemplate};

use common::{percentile, round2, sorted};

type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// Notes the arrival, then answers after the template's delay.
struct Slow {
    arrivals: Arrivals,
    answer: ResponseTemplate,
}

impl Respond for Slow {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        self.arrivals
            .lock()
            .unwrap()
            .push((request.url.path().to_owned(), Instant::now()));
        self.answer.clone()
    }
}

async fn slow_receivers(world: &FakeWorld, delay: Duration) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    for (p, status, body) in [
        (
            "/api/chat.postMessage",
            200,
            json!({"ok": true, "channel": "C1", "ts": "1.2"}),
        ),
        (
            "/rest/api/3/issue",
            201,
            json!({"id": "10001", "key": "OPS-1"}),
        ),
        (GITHUB_DISPATCH_PATH, 204, json!({})),
        (GITLAB_TRIGGER_PATH, 201, json!({"id": 7})),
        (WEBHOOK_PATH, 200, json!({})),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(Slow {
                arrivals: arrivals.clone(),
                answer: ResponseTemplate::new(status)
                    .set_body_json(body)
                    .set_delay(delay),
            })
            .mount(&world.server)
            .await;
    }
    arrivals
}

fn event(id: &str, tenant: &str) -> Value {
    json!({
        "event_id": id, "tenant_id": tenant, "decision": "block", "action": "ec2.terminate",
        "resource_id": "i-0abc", "summary": "fan-out bench", "severity": "high",
    })
}

/// Poll until all five deliveries are `delivered`; the time they were seen so.
async fn all_delivered(world: &FakeWorld, id: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = policy::load_state(world.state.store.as_ref(), id)
            .await
            .unwrap()
            .expect("the event exists");
        let done = state
            .deliveries
            .iter()
            .filter(|(d, _)| d.status == DeliveryStatus::Delivered)
            .count();
        if done == 5 {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "deliveries not all delivered: {:?}",
            state
                .deliveries
                .iter()
                .map(|(d, _)| (d.channel, d.status))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// One measurement, in ms from `accepted`.
fn outcome(arrivals: &Arrivals, accepted: Instant, delivered: Instant) -> Value {
    let seen = arrivals.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "each target receives exactly one request");
    let at: Vec<f64> = seen
        .iter()
        .map(|(_, t)| t.saturating_duration_since(accepted).as_secs_f64() * 1000.0)
        .collect();
    let gaps: Vec<f64> = seen
        .windows(2)
        .map(|w| (w[1].1 - w[0].1).as_secs_f64() * 1000.0)
        .collect();
    json!({
        "first_arrival_ms": round2(at[0]),
        "last_arrival_ms": round2(*at.last().unwrap()),
        "median_gap_ms": round2(percentile(&sorted(&gaps), 50.0)),
        "all_delivered_ms": round2(delivered.saturating_duration_since(accepted).as_secs_f64() * 1000.0),
        "order": seen.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
    })
}

fn summary(name: &str, runs: &[Value]) -> Value {
    let med = |k: &str| {
        let v: Vec<f64> = runs.iter().filter_map(|r| r[k].as_f64()).collect();
        round2(percentile(&sorted(&v), 50.0))
    };
    let s = json!({
        "path": name,
        "runs": runs.len(),
        "median_first_arrival_ms": med("first_arrival_ms"),
        "median_last_arrival_ms": med("last_arrival_ms"),
        "median_gap_ms": med("median_gap_ms"),
        "median_all_delivered_ms": med("all_delivered_ms"),
    });
    println!(
        "| {name} | {} | {} | {} | {} |",
        s["median_first_arrival_ms"],
        s["median_last_arrival_ms"],
        s["median_gap_ms"],
        s["median_all_delivered_ms"]
    );
    s
}

#[tokio::main]
async fn main() {
    let reps: usize = common::env_or("BENCH_FANOUT_REPS", 5);
    let delay = Duration::from_millis(common::env_or("BENCH_TARGET_DELAY_MS", 300));
    let work = common::temp_dir("bench-fanout");
    let store = common::sqlite_store(work.path()).await;
    let world = FakeWorld::new(store, Duration::from_secs(10)).await;
    let arrivals = slow_receivers(&world, delay).await;
    // Path 1: the in-process dispatch `valdrix serve` adds after the 202.
    let state = world.state.clone();
    let app = valdrix_shared::http::layers(policy_events::router(state.clone()), &state.config)
        .layer(axum::middleware::from_fn_with_state(
            state.notifying(),
            valdrix_shared::policy::inline::after_accept,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();

    let load_before = common::load_average();
    let mut serve_runs = Vec::new();
    for rep in 0..reps {
        arrivals.lock().unwrap().clear();
        let id = valdrix_tests::unique(&format!("fan-serve-{rep}"));
        let res = http
            .post(format!("{base}/api/v1/policy/events"))
            .header("x-admin-key", valdrix_tests::ADMIN_API_KEY)
            .json(&event(&id, &world.tenant))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let accepted = Instant::now();
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            body["deliveries"].as_array().map(Vec::len),
            Some(5),
            "five targets: {body}"
        );
        let delivered = all_delivered(&world, &id).await;
        serve_runs.push(outcome(&arrivals, accepted, delivered));
    }

    // Path 2: the notification-dispatcher handler on the stream batch.
    let sender = NotifySender(state.notifying());
    let dead = StoreDeadLetters(state.store.clone());
    let dispatcher = Dispatcher {
        store: state.store.as_ref(),
        audit: &state.audit,
        sender: &sender,
        dead_letters: &dead,
    };
    let mut lambda_runs = Vec::new();
    for rep in 0..reps {
        arrivals.lock().unwrap().clear();
        let id = valdrix_tests::unique(&format!("fan-lambda-{rep}"));
        let input: PolicyEventInput = serde_json::from_value(event(&id, &world.tenant)).unwrap();
        let Accepted::Created(created) = policy::accept(state.store.as_ref(), &state.audit, input)
            .await
            .unwrap()
        else {
            panic!("a new event id is created");
        };
        let accepted = Instant::now();
        let records: Vec<Value> = created
            .deliveries
            .iter()
            .map(|(d, _)| {
                json!({"eventID": "1", "eventName": "INSERT", "awsRegion": "us-east-1",
                    "eventSource": "aws:dynamodb", "dynamodb": {"SizeBytes": 100, "NewImage": {
                    "pk": {"S": policy::event_pk(&id)},
                    "sk": {"S": policy::delivery_sk(d.channel)},
                    "status": {"S": "pending"},
                }}})
            })
            .collect();
        assert_eq!(records.len(), 5);
        let trigger = serde_json::from_value(json!({ "Records": records })).unwrap();
        let answer = notification_dispatcher::handle(&dispatcher, &trigger)
            .await
            .unwrap();
        let handled = Instant::now();
        assert_eq!(answer["processed"], 5, "{answer}");
        let delivered = all_delivered(&world, &id).await;
        let mut run = outcome(&arrivals, accepted, delivered);
        run["handler_ms"] = round2((handled - accepted).as_secs_f64() * 1000.0).into();
        lambda_runs.push(run);
    }
    let load_after = common::load_average();

    println!(
        "fan-out: 5 targets, each answers after {} ms; {reps} runs per path; ms from acceptance",
        delay.as_millis()
    );
    println!("| path | first arrival | last arrival | gap between arrivals | all 5 delivered |");
    println!("|---|---|---|---|---|");
    let serve_summary = summary(
        "valdrix serve: POST → 202 → in-process dispatch",
        &serve_runs,
    );
    let lambda_summary = summary(
        "Lambda: notification-dispatcher on one stream batch",
        &lambda_runs,
    );
    let serial = serve_summary["median_last_arrival_ms"]
        .as_f64()
        .unwrap_or(0.0)
        > 3.0 * delay.as_millis() as f64;
    println!(
        "sending is {}",
        if serial {
            "SERIAL: each target waits for the previous one's answer"
        } else {
            "concurrent"
        }
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "target_delay_ms": delay.as_millis() as u64,
            "load_before": load_before,
            "load_after": load_after,
            "serial": serial,
            "serve": {"summary": serve_summary, "runs": serve_runs},
            "lambda": {"summary": lambda_summary, "runs": lambda_runs},
        }))
        .unwrap()
    );
}
