//! `GET …/acceptance-evidence/verify` in bounded requests: a long chain is
//! verified a range per request with a MAC'd cursor, tampering in the middle
//! is named with its seq (a stale cursor included), checkpoints in the range
//! are checked, a forged cursor is a 400, and a request out of time answers
//! a cursor or a 503 with `Retry-After`, never the platform's bare 5xx.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use serde_json::{Value, json};
use valdrix_shared::audit::checkpoint;
use valdrix_shared::audit::{Actor, NewEvent, RANGE_EVENTS};
use valdrix_shared::http::layers;
use valdrix_shared::state::SharedState;
use valdrix_shared::store::{Condition, DynStore};
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{call, local_signer, state_with, unique, user_token};

const VERIFY: &str = "/api/v1/settings/notifications/acceptance-evidence/verify";

struct Fixture {
    app: axum::Router,
    state: SharedState,
    store: DynStore,
    tenant: String,
}

async fn fixture(store: DynStore) -> Fixture {
    let state = state_with(store.clone());
    let tenant = unique("t");
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    tenancy::create_tenant(&state.audit, Some(tenant.clone()), "T", Tier::Pro, &ctx)
        .await
        .unwrap();
    tenancy::put_member(
        state.store.as_ref(),
        &state.audit,
        &tenant,
        &format!("{tenant}-owner"),
        Role::Owner,
        "u@t.io",
        &ctx,
    )
    .await
    .unwrap();
    let app = layers(evidence::router(state.clone()), &state.config);
    Fixture {
        app,
        state,
        store,
        tenant,
    }
}

/// Milliseconds since the epoch, `ahead` from now (negative: in the past).
fn epoch_ms(ahead: i64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now.as_millis() as i64 + ahead) as u64
}

impl Fixture {
    /// Grow the chain to `events` events, 90 per transaction.
    async fn grow_to(&self, events: u64) {
        let head = self.state.audit.head(&self.tenant).await.unwrap();
        let mut seq = head.map_or(0, |h| h.seq);
        while seq < events {
            let n = (events - seq).min(90);
            let batch = (0..n)
                .map(|i| {
                    let event = NewEvent {
                        tenant_id: self.tenant.clone(),
                        event_type: "test.event".into(),
                        actor: Actor::System,
                        request_id: None,
                        resource: Some(format!("thing/{}", seq + i)),
                        success: true,
                        details: json!({"n": seq + i}),
                    };
                    (event, None)
                })
                .collect();
            self.state
                .audit
                .append_all(batch, Vec::new())
                .await
                .unwrap();
            seq += n;
        }
    }

    /// GET verify; `deadline_ms` plays Lambda's invocation deadline.
    async fn verify(
        &self,
        cursor: Option<&str>,
        deadline_ms: Option<u64>,
    ) -> (u16, http::HeaderMap, Value) {
        let uri = match cursor {
            Some(c) => format!("{VERIFY}?cursor={c}"),
            None => VERIFY.to_owned(),
        };
        let token = user_token(&format!("{}-owner", self.tenant), "u@t.io");
        let mut req = http::Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        if let Some(ms) = deadline_ms {
            let mut ctx = lambda_http::Context::default();
            ctx.deadline = ms;
            req.extensions_mut().insert(ctx);
        }
        call(&self.app, req).await
    }

    /// Follow cursors from the start to the end or the first break; every
    /// answer, in order.
    async fn walk(&self) -> Vec<Value> {
        let mut answers: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (status, _, body) = self.verify(cursor.as_deref(), None).await;
            assert_eq!(status, 200, "{body}");
            let expected_from = answers
                .last()
                .map_or(1, |a| a["verified_to"].as_u64().unwrap() + 1);
            assert_eq!(
                body["verified_from"].as_u64(),
                Some(expected_from),
                "{body}"
            );
            assert!(
                body["events_checked"].as_u64().unwrap() <= RANGE_EVENTS,
                "{body}"
            );
            cursor = body["next_cursor"].as_str().map(str::to_owned);
            let done = cursor.is_none();
            answers.push(body);
            if done {
                return answers;
            }
            assert!(answers.len() < 10_000, "the walk must end");
        }
    }

    async fn tamper(&self, seq: u64) {
        let pk = format!("TENANT#{}", self.tenant);
        let sk = format!("AUDIT#{seq:020}");
        let mut item = self.store.get(&pk, &sk).await.unwrap().unwrap();
        item["event"]["details"] = json!({"n": "changed"});
        self.store.put(item, Condition::None).await.unwrap();
    }

    async fn sign(&self, seq: u64) {
        let e = self
            .state
            .audit
            .event(&self.tenant, seq)
            .await
            .unwrap()
            .unwrap();
        checkpoint::sign_at(
            self.store.as_ref(),
            local_signer().as_ref(),
            &self.tenant,
            seq,
            &e.hash,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
}

async fn a_long_chain_verifies_in_bounded_requests_and_names_tampering(
    store: DynStore,
    events: u64,
) {
    let f = fixture(store).await;
    f.grow_to(events).await;
    let signed = [events / 3, events / 2, events - 1];
    for seq in signed {
        f.sign(seq).await;
    }
    let answers = f.walk().await;
    let last = answers.last().unwrap();
    assert_eq!(
        (
            last["ok"].clone(),
            last["complete"].clone(),
            last["verified_to"].clone(),
            last["head_seq"].clone()
        ),
        (json!(true), json!(true), json!(events), json!(events)),
        "{last}"
    );
    assert!(answers.len() as u64 >= events.div_ceil(RANGE_EVENTS));
    assert!(
        answers[..answers.len() - 1]
            .iter()
            .all(|a| a["ok"] == true && a["complete"] == false)
    );
    let checkpoints: u64 = answers
        .iter()
        .map(|a| a["checkpoints_checked"].as_u64().unwrap())
        .sum();
    assert_eq!(checkpoints, signed.len() as u64);

    // A cursor handed out before the tampering: the event it stopped at changed.
    let (_, _, first) = f.verify(None, None).await;
    let stale = first["next_cursor"].as_str().unwrap().to_owned();
    let stopped_at = first["verified_to"].as_u64().unwrap();

    let middle = events / 2 + 7;
    f.tamper(middle).await;
    let answers = f.walk().await;
    let broken = answers.last().unwrap();
    assert_eq!(
        (
            broken["ok"].clone(),
            broken["first_bad_seq"].clone(),
            broken["complete"].clone()
        ),
        (json!(false), json!(middle), json!(false)),
        "{broken}"
    );
    assert_eq!(broken["verified_to"].as_u64(), Some(middle - 1));
    assert!(broken["next_cursor"].is_null());
    assert!(!broken["reason"].as_str().unwrap().is_empty());

    f.tamper(stopped_at).await;
    let (status, _, body) = f.verify(Some(&stale), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["ok"].clone(), body["first_bad_seq"].clone()),
        (json!(false), json!(stopped_at)),
        "{body}"
    );
}

async fn a_checkpoint_that_signed_another_hash_is_named(store: DynStore) {
    let f = fixture(store.clone()).await;
    f.grow_to(40).await;
    checkpoint::sign_at(
        store.as_ref(),
        local_signer().as_ref(),
        &f.tenant,
        17,
        &"ab".repeat(32),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let (_, _, body) = f.verify(None, None).await;
    assert_eq!(
        (body["ok"].clone(), body["first_bad_seq"].clone()),
        (json!(false), json!(17)),
        "{body}"
    );
    assert!(
        body["reason"].as_str().unwrap().contains("checkpoint"),
        "{body}"
    );
}

async fn a_forged_or_foreign_cursor_is_a_400(store: DynStore) {
    let f = fixture(store.clone()).await;
    f.grow_to(RANGE_EVENTS + 10).await;
    let (_, _, first) = f.verify(None, None).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // Claim more than was verified: the MAC no longer matches.
    let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    let (payload, tag) = bytes.split_at(bytes.len() - 32);
    let payload = String::from_utf8(payload.to_vec()).unwrap();
    let to = first["verified_to"].as_u64().unwrap();
    let claimed = payload.replace(&format!("\"seq\":{to}"), &format!("\"seq\":{}", to + 9));
    assert_ne!(claimed, payload);
    let forged = URL_SAFE_NO_PAD.encode([claimed.as_bytes(), tag].concat());
    let other = fixture(store).await;
    other.grow_to(RANGE_EVENTS + 10).await;
    let (_, _, theirs) = other.verify(None, None).await;
    let foreign = theirs["next_cursor"].as_str().unwrap().to_owned();
    for bad in [forged.as_str(), foreign.as_str(), "e30", "not-a-cursor"] {
        let (status, headers, body) = f.verify(Some(bad), None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["status"], 400);
    }
    // The real one still works.
    let (status, _, body) = f.verify(Some(&cursor), None).await;
    assert_eq!(
        (status, body["complete"].clone()),
        (200, json!(true)),
        "{body}"
    );
}

async fn out_of_time_answers_a_cursor_or_a_503_with_retry_after(store: DynStore) {
    let f = fixture(store).await;
    f.grow_to(2 * RANGE_EVENTS).await;
    // Lambda's deadline already (all but) reached: nothing can be verified.
    let (status, headers, body) = f.verify(None, Some(epoch_ms(200))).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // A tiny budget: whatever fits, and a cursor to go on from; or a 503.
    let budget = Duration::from_millis(1_300).as_millis() as i64;
    let (status, headers, body) = f.verify(None, Some(epoch_ms(budget))).await;
    match status {
        200 => {
            assert_eq!(
                (body["ok"].clone(), body["complete"].clone()),
                (json!(true), json!(false)),
                "{body}"
            );
            assert!(body["next_cursor"].is_string());
        }
        503 => assert!(headers.contains_key("retry-after")),
        other => panic!("{other}: {body}"),
    }
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_100k_event_chain_verifies_in_bounded_requests_and_names_tampering() {
        a_long_chain_verifies_in_bounded_requests_and_names_tampering(
            valdrix_tests::sqlite_store().await,
            100_000,
        )
        .await
    }
    #[tokio::test]
    async fn a_checkpoint_that_signed_another_hash_is_named() {
        super::a_checkpoint_that_signed_another_hash_is_named(valdrix_tests::sqlite_store().await)
            .await
    }
    #[tokio::test]
    async fn a_forged_or_foreign_cursor_is_a_400() {
        super::a_forged_or_foreign_cursor_is_a_400(valdrix_tests::sqlite_store().await).await
    }
    #[tokio::test]
    async fn out_of_time_answers_a_cursor_or_a_503_with_retry_after() {
        super::out_of_time_answers_a_cursor_or_a_503_with_retry_after(
            valdrix_tests::sqlite_store().await,
        )
        .await
    }
}

mod dynamo {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_12k_event_chain_verifies_in_bounded_requests_and_names_tampering() {
        a_long_chain_verifies_in_bounded_requests_and_names_tampering(
            valdrix_tests::dynamo_store().await,
            12_000,
        )
        .await
    }
    #[tokio::test]
    async fn a_checkpoint_that_signed_another_hash_is_named() {
        super::a_checkpoint_that_signed_another_hash_is_named(valdrix_tests::dynamo_store().await)
            .await
    }
}
