//! The store contract: every case runs against the embedded SQLite store
//! (`sqlite::<case>`) and against DynamoDB Local (`dynamo::<case>`), so the
//! embedded backend cannot drift into a kinder DynamoDB. Each case owns a
//! fresh partition key, so cases run in parallel on one table.
//!
//! DynamoDB Local comes from `eval "$(infra/emulators.sh start)"`; without
//! VALDRIX_TEST_DYNAMODB_ENDPOINT the `dynamo::` cases fail with instructions.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tempfile::TempDir;
use valdrix_shared::config::StoreUrl;
use valdrix_shared::store::{
    self, Condition, Cursor, DynStore, Item, MAX_TRANSACTION_OPS, Query, SortKey, StoreError,
    WriteOp,
};

const CONTRACT_TABLE: &str = "valdrix-contract";

struct Fixture {
    store: DynStore,
    /// A partition no other case touches.
    pk: String,
    _dir: Option<TempDir>,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/store.sqlite");
    let url = StoreUrl::Sqlite {
        path: path.to_string_lossy().into_owned(),
    };
    Fixture {
        store: store::open(&url).await.expect("open sqlite store"),
        pk: unique("TENANT#"),
        _dir: Some(dir),
    }
}

fn dynamo_url(table: &str) -> StoreUrl {
    StoreUrl::DynamoDb {
        table: table.into(),
        endpoint: Some(valdrix_tests::emulator_endpoint(
            "VALDRIX_TEST_DYNAMODB_ENDPOINT",
            "DynamoDB Local",
        )),
        region: None,
    }
}

async fn dynamo() -> Fixture {
    let store = store::open(&dynamo_url(CONTRACT_TABLE))
        .await
        .expect("open dynamo store");
    // Every case races to create the shared table; the losers must cope.
    store.ensure_table().await.expect("ensure contract table");
    Fixture {
        store,
        pk: unique("TENANT#"),
        _dir: None,
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::sqlite().await).await
            })*
        }
        mod dynamo {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::dynamo().await).await
            })*
        }
    };
}

contract!(
    get_missing_is_none,
    put_not_exists_twice,
    put_replaces_unconditionally,
    version_equals,
    exists_condition,
    delete_with_conditions,
    query_prefix_both_directions,
    query_between_inclusive,
    pagination_loses_and_repeats_nothing,
    cursors_from_elsewhere_are_refused,
    query_limit_bounds,
    transaction_rolls_back_and_names_the_op,
    transaction_commits_every_op,
    transaction_limits,
    ttl_is_stored_and_expired_items_are_absent,
    json_round_trip,
    invalid_items_are_refused,
    concurrent_creates_have_one_winner,
    ensure_table_is_idempotent_and_ping_answers,
    batch_get_answers_in_key_order,
    batch_put_writes_and_replaces,
    batch_refuses_repeated_keys,
);

// ---------------------------------------------------------------- helpers

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut it = extra.as_object().cloned().unwrap_or_default();
    it.insert("pk".into(), pk.into());
    it.insert("sk".into(), sk.into());
    it
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["sk"].as_str().expect("sk is a string").to_owned())
        .collect()
}

async fn put(f: &Fixture, sk: &str, extra: Value) {
    f.store
        .put(item(&f.pk, sk, extra), Condition::None)
        .await
        .expect("put");
}

async fn query_sks(f: &Fixture, sk: SortKey, descending: bool) -> Vec<String> {
    let mut q = Query::new(&f.pk, sk);
    q.descending = descending;
    let page = f.store.query(q).await.expect("query");
    sks(&page.items)
}

/// Every page of a query, checking the page-size bound on each.
async fn all_pages(f: &Fixture, sk: SortKey, descending: bool, limit: u32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let mut q = Query::new(&f.pk, sk.clone());
        q.descending = descending;
        q.limit = limit;
        q.cursor = cursor;
        let page = f.store.query(q).await.expect("query page");
        assert!(page.items.len() <= limit as usize);
        pages.push(sks(&page.items));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

fn assert_condition_failed(result: Result<(), StoreError>, pk: &str, sk: &str) {
    match result {
        Err(StoreError::ConditionFailed { pk: p, sk: s }) => {
            assert_eq!((p.as_str(), s.as_str()), (pk, sk))
        }
        other => panic!("expected ConditionFailed on {pk}/{sk}, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Invalid(_))),
        "expected Invalid, got {result:?}"
    );
}

// ---------------------------------------------------------------- cases

async fn get_missing_is_none(f: Fixture) {
    assert_eq!(f.store.get(&f.pk, "META").await.unwrap(), None);
}

async fn put_not_exists_twice(f: Fixture) {
    let it = item(&f.pk, "META", json!({"name": "first"}));
    f.store.put(it, Condition::NotExists).await.unwrap();
    let again = item(&f.pk, "META", json!({"name": "second"}));
    assert_condition_failed(
        f.store.put(again, Condition::NotExists).await,
        &f.pk,
        "META",
    );
    let stored = f.store.get(&f.pk, "META").await.unwrap().unwrap();
    assert_eq!(stored["name"], "first");
}

async fn put_replaces_unconditionally(f: Fixture) {
    put(&f, "META", json!({"a": 1, "b": 2})).await;
    put(&f, "META", json!({"a": 3})).await;
    let stored = f.store.get(&f.pk, "META").await.unwrap().unwrap();
    // A put replaces the whole item, as DynamoDB's PutItem does.
    assert_eq!(
        Value::Object(stored),
        json!({"pk": f.pk, "sk": "META", "a": 3})
    );
}

async fn version_equals(f: Fixture) {
    let missing = item(&f.pk, "SETTINGS#n", json!({"version": 1}));
    assert_condition_failed(
        f.store.put(missing, Condition::VersionEquals(0)).await,
        &f.pk,
        "SETTINGS#n",
    );
    put(&f, "SETTINGS#n", json!({"version": 1, "v": "one"})).await;
    let next = item(&f.pk, "SETTINGS#n", json!({"version": 2, "v": "two"}));
    f.store
        .put(next.clone(), Condition::VersionEquals(1))
        .await
        .unwrap();
    // The same update again is now stale.
    assert_condition_failed(
        f.store.put(next, Condition::VersionEquals(1)).await,
        &f.pk,
        "SETTINGS#n",
    );
    let stored = f.store.get(&f.pk, "SETTINGS#n").await.unwrap().unwrap();
    assert_eq!(
        (stored["version"].clone(), stored["v"].clone()),
        (json!(2), json!("two"))
    );
    // An item without `version` never matches.
    put(&f, "NOVERSION", json!({})).await;
    let it = item(&f.pk, "NOVERSION", json!({"version": 1}));
    assert_condition_failed(
        f.store.put(it, Condition::VersionEquals(0)).await,
        &f.pk,
        "NOVERSION",
    );
}

async fn exists_condition(f: Fixture) {
    let it = item(&f.pk, "META", json!({"n": 1}));
    assert_condition_failed(
        f.store.put(it.clone(), Condition::Exists).await,
        &f.pk,
        "META",
    );
    assert_eq!(f.store.get(&f.pk, "META").await.unwrap(), None);
    put(&f, "META", json!({"n": 0})).await;
    f.store.put(it, Condition::Exists).await.unwrap();
    assert_eq!(f.store.get(&f.pk, "META").await.unwrap().unwrap()["n"], 1);
}

async fn delete_with_conditions(f: Fixture) {
    // Unconditional delete of a missing item succeeds, as in DynamoDB.
    f.store.delete(&f.pk, "X", Condition::None).await.unwrap();
    assert_condition_failed(
        f.store.delete(&f.pk, "X", Condition::Exists).await,
        &f.pk,
        "X",
    );
    put(&f, "X", json!({"version": 4})).await;
    assert_condition_failed(
        f.store
            .delete(&f.pk, "X", Condition::VersionEquals(3))
            .await,
        &f.pk,
        "X",
    );
    assert_condition_failed(
        f.store.delete(&f.pk, "X", Condition::NotExists).await,
        &f.pk,
        "X",
    );
    assert!(f.store.get(&f.pk, "X").await.unwrap().is_some());
    f.store
        .delete(&f.pk, "X", Condition::VersionEquals(4))
        .await
        .unwrap();
    assert_eq!(f.store.get(&f.pk, "X").await.unwrap(), None);
    put(&f, "Y", json!({})).await;
    f.store.delete(&f.pk, "Y", Condition::Exists).await.unwrap();
    assert_eq!(f.store.get(&f.pk, "Y").await.unwrap(), None);
}

async fn query_prefix_both_directions(f: Fixture) {
    // Byte order: "AUDIT#" < "AUDIT#0001" < "AUDIT#HEAD" < "AUDIT$" and
    // upper case before lower case before non-ASCII.
    for sk in [
        "AUDIT#0002",
        "AUDIT#0001",
        "AUDIT#HEAD",
        "AUDIT#é",
        "AUDIT#a",
        "AUDIT$",
        "AUDIT",
        "META",
        "AUDIT#",
    ] {
        put(&f, sk, json!({})).await;
    }
    // Another partition with the same sort keys must not leak in.
    let other = unique("TENANT#");
    f.store
        .put(item(&other, "AUDIT#0003", json!({})), Condition::None)
        .await
        .unwrap();
    let want = [
        "AUDIT#",
        "AUDIT#0001",
        "AUDIT#0002",
        "AUDIT#HEAD",
        "AUDIT#a",
        "AUDIT#é",
    ];
    assert_eq!(
        query_sks(&f, SortKey::Prefix("AUDIT#".into()), false).await,
        want
    );
    let mut reversed = want.to_vec();
    reversed.reverse();
    assert_eq!(
        query_sks(&f, SortKey::Prefix("AUDIT#".into()), true).await,
        reversed
    );
    assert_eq!(
        query_sks(&f, SortKey::Prefix("NOPE".into()), false).await,
        Vec::<String>::new()
    );
    let all = query_sks(&f, SortKey::All, false).await;
    assert_eq!(all.len(), 9);
    assert_eq!(all.first().map(String::as_str), Some("AUDIT"));
    assert_eq!(all.last().map(String::as_str), Some("META"));
}

async fn query_between_inclusive(f: Fixture) {
    for day in 1..=9 {
        put(&f, &format!("LEDGER#2025-01-0{day}"), json!({"day": day})).await;
    }
    let range = SortKey::Between("LEDGER#2025-01-03".into(), "LEDGER#2025-01-05".into());
    assert_eq!(
        query_sks(&f, range.clone(), false).await,
        [
            "LEDGER#2025-01-03",
            "LEDGER#2025-01-04",
            "LEDGER#2025-01-05"
        ]
    );
    assert_eq!(
        query_sks(&f, range, true).await,
        [
            "LEDGER#2025-01-05",
            "LEDGER#2025-01-04",
            "LEDGER#2025-01-03"
        ]
    );
    // Bounds need not exist themselves.
    let open = SortKey::Between("LEDGER#2025-01-08x".into(), "LEDGER#2025-02".into());
    assert_eq!(query_sks(&f, open, false).await, ["LEDGER#2025-01-09"]);
    let backwards = SortKey::Between("LEDGER#9".into(), "LEDGER#1".into());
    assert_invalid(f.store.query(Query::new(&f.pk, backwards)).await);
}

async fn pagination_loses_and_repeats_nothing(f: Fixture) {
    let mut want: Vec<String> = (0..25).map(|i| format!("ITEM#{i:03}")).collect();
    for sk in &want {
        put(&f, sk, json!({"payload": sk})).await;
    }
    // Neighbours outside the prefix must not appear on any page.
    put(&f, "ITEM", json!({})).await;
    put(&f, "ITEMS", json!({})).await;
    for descending in [false, true] {
        let pages = all_pages(&f, SortKey::Prefix("ITEM#".into()), descending, 7).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        // DynamoDB may end with an empty page after a full one; the embedded
        // store knows there are no more and stops at [7, 7, 7, 4].
        assert!(
            sizes == [7, 7, 7, 4] || sizes == [7, 7, 7, 4, 0],
            "page sizes {sizes:?}"
        );
        let got: Vec<String> = pages.concat();
        let distinct: HashSet<&String> = got.iter().collect();
        assert_eq!(distinct.len(), got.len(), "an item repeated");
        let mut expected = want.clone();
        if descending {
            expected.reverse();
        }
        assert_eq!(got, expected);
    }
    // 21 items with limit 7: the last page is full, so an empty page may follow.
    want.truncate(21);
    let range = SortKey::Between(want[0].clone(), want[20].clone());
    let pages = all_pages(&f, range, false, 7).await;
    assert_eq!(pages.concat(), want);
    assert!(pages.len() == 3 || (pages.len() == 4 && pages[3].is_empty()));
}

async fn cursors_from_elsewhere_are_refused(f: Fixture) {
    for i in 0..5 {
        put(&f, &format!("A#{i}"), json!({})).await;
        put(&f, &format!("B#{i}"), json!({})).await;
    }
    let mut q = Query::new(&f.pk, SortKey::Prefix("A#".into()));
    q.limit = 2;
    let cursor = f.store.query(q.clone()).await.unwrap().next_cursor.unwrap();
    // The same cursor, encoded and decoded as a client would, still works.
    let mut next = q.clone();
    next.cursor = Some(Cursor::decode(&cursor.encode()).unwrap());
    assert_eq!(
        sks(&f.store.query(next).await.unwrap().items),
        ["A#2", "A#3"]
    );

    assert!(matches!(
        Cursor::decode("not a cursor"),
        Err(StoreError::InvalidCursor)
    ));
    let mut other_pk = Query::new(unique("TENANT#"), SortKey::Prefix("A#".into()));
    other_pk.cursor = Some(cursor.clone());
    assert!(matches!(
        f.store.query(other_pk).await,
        Err(StoreError::InvalidCursor)
    ));
    let mut other_prefix = Query::new(&f.pk, SortKey::Prefix("B#".into()));
    other_prefix.cursor = Some(cursor.clone());
    assert!(matches!(
        f.store.query(other_prefix).await,
        Err(StoreError::InvalidCursor)
    ));
    let mut outside_range = Query::new(&f.pk, SortKey::Between("B#0".into(), "B#9".into()));
    outside_range.cursor = Some(cursor);
    assert!(matches!(
        f.store.query(outside_range).await,
        Err(StoreError::InvalidCursor)
    ));
}

async fn query_limit_bounds(f: Fixture) {
    put(&f, "A", json!({})).await;
    for limit in [0, 1001] {
        let mut q = Query::new(&f.pk, SortKey::All);
        q.limit = limit;
        assert_invalid(f.store.query(q).await);
    }
    for limit in [1, 1000] {
        let mut q = Query::new(&f.pk, SortKey::All);
        q.limit = limit;
        assert_eq!(f.store.query(q).await.unwrap().items.len(), 1);
    }
}

async fn transaction_rolls_back_and_names_the_op(f: Fixture) {
    put(&f, "AUDIT#HEAD", json!({"seq": 7, "version": 7})).await;
    put(&f, "DOOMED", json!({})).await;
    let ops = vec![
        WriteOp::Put {
            item: item(&f.pk, "AUDIT#0008", json!({"seq": 8})),
            condition: Condition::NotExists,
        },
        WriteOp::Delete {
            pk: f.pk.clone(),
            sk: "DOOMED".into(),
            condition: Condition::Exists,
        },
        WriteOp::Put {
            item: item(&f.pk, "AUDIT#HEAD", json!({"seq": 8, "version": 8})),
            // Stale: the head is at 7.
            condition: Condition::VersionEquals(6),
        },
        WriteOp::Check {
            pk: f.pk.clone(),
            sk: "NOTHING".into(),
            condition: Condition::NotExists,
        },
    ];
    match f.store.transact(ops).await {
        Err(StoreError::TransactionConditionFailed { index, pk, sk }) => {
            assert_eq!(
                (index, pk.as_str(), sk.as_str()),
                (2, f.pk.as_str(), "AUDIT#HEAD")
            );
        }
        other => panic!("expected TransactionConditionFailed, got {other:?}"),
    }
    // Nothing was written and nothing deleted.
    assert_eq!(f.store.get(&f.pk, "AUDIT#0008").await.unwrap(), None);
    assert!(f.store.get(&f.pk, "DOOMED").await.unwrap().is_some());
    assert_eq!(
        f.store.get(&f.pk, "AUDIT#HEAD").await.unwrap().unwrap()["seq"],
        7
    );

    // A failing Check op is named too.
    let ops = vec![
        WriteOp::Put {
            item: item(&f.pk, "NEW", json!({})),
            condition: Condition::None,
        },
        WriteOp::Check {
            pk: f.pk.clone(),
            sk: "DOOMED".into(),
            condition: Condition::NotExists,
        },
    ];
    assert!(matches!(
        f.store.transact(ops).await,
        Err(StoreError::TransactionConditionFailed { index: 1, .. })
    ));
    assert_eq!(f.store.get(&f.pk, "NEW").await.unwrap(), None);
}

async fn transaction_commits_every_op(f: Fixture) {
    put(&f, "AUDIT#HEAD", json!({"seq": 1, "version": 1})).await;
    put(&f, "OLD", json!({})).await;
    put(&f, "GUARD", json!({})).await;
    let ops = vec![
        WriteOp::Put {
            item: item(&f.pk, "AUDIT#0002", json!({"seq": 2})),
            condition: Condition::NotExists,
        },
        WriteOp::Put {
            item: item(&f.pk, "AUDIT#HEAD", json!({"seq": 2, "version": 2})),
            condition: Condition::VersionEquals(1),
        },
        WriteOp::Delete {
            pk: f.pk.clone(),
            sk: "OLD".into(),
            condition: Condition::Exists,
        },
        WriteOp::Check {
            pk: f.pk.clone(),
            sk: "GUARD".into(),
            condition: Condition::Exists,
        },
    ];
    f.store.transact(ops).await.unwrap();
    assert_eq!(
        f.store.get(&f.pk, "AUDIT#0002").await.unwrap().unwrap()["seq"],
        2
    );
    assert_eq!(
        f.store.get(&f.pk, "AUDIT#HEAD").await.unwrap().unwrap()["version"],
        2
    );
    assert_eq!(f.store.get(&f.pk, "OLD").await.unwrap(), None);
    assert!(f.store.get(&f.pk, "GUARD").await.unwrap().is_some());
}

async fn transaction_limits(f: Fixture) {
    let puts = |n: usize| -> Vec<WriteOp> {
        (0..n)
            .map(|i| WriteOp::Put {
                item: item(&f.pk, &format!("BULK#{i:03}"), json!({})),
                condition: Condition::NotExists,
            })
            .collect()
    };
    assert_invalid(f.store.transact(puts(MAX_TRANSACTION_OPS + 1)).await);
    assert_invalid(f.store.transact(Vec::new()).await);
    let mut twice = puts(2);
    twice.push(WriteOp::Delete {
        pk: f.pk.clone(),
        sk: "BULK#000".into(),
        condition: Condition::None,
    });
    assert_invalid(f.store.transact(twice).await);
    let unconditional_check = vec![WriteOp::Check {
        pk: f.pk.clone(),
        sk: "X".into(),
        condition: Condition::None,
    }];
    assert_invalid(f.store.transact(unconditional_check).await);
    // Nothing of the refused transactions was written.
    assert_eq!(
        query_sks(&f, SortKey::All, false).await,
        Vec::<String>::new()
    );
    f.store.transact(puts(MAX_TRANSACTION_OPS)).await.unwrap();
    let mut q = Query::new(&f.pk, SortKey::Prefix("BULK#".into()));
    q.limit = 1000;
    assert_eq!(
        f.store.query(q).await.unwrap().items.len(),
        MAX_TRANSACTION_OPS
    );
}

async fn ttl_is_stored_and_expired_items_are_absent(f: Fixture) {
    let (future, past) = (now() + 3600, now() - 3600);
    put(&f, "IDEM#live", json!({"ttl": future, "response": "kept"})).await;
    put(&f, "IDEM#expired", json!({"ttl": past, "version": 1})).await;
    // DynamoDB's TTL ignores a non-number ttl, and so does the store.
    put(&f, "IDEM#text", json!({"ttl": past.to_string()})).await;

    let live = f.store.get(&f.pk, "IDEM#live").await.unwrap().unwrap();
    assert_eq!(live["ttl"], json!(future));
    assert_eq!(f.store.get(&f.pk, "IDEM#expired").await.unwrap(), None);
    assert!(f.store.get(&f.pk, "IDEM#text").await.unwrap().is_some());
    assert_eq!(
        query_sks(&f, SortKey::Prefix("IDEM#".into()), false).await,
        ["IDEM#live", "IDEM#text"]
    );

    // Conditions see the expired item as absent.
    let exists = item(&f.pk, "IDEM#expired", json!({"version": 2}));
    assert_condition_failed(
        f.store.put(exists.clone(), Condition::Exists).await,
        &f.pk,
        "IDEM#expired",
    );
    assert_condition_failed(
        f.store.put(exists, Condition::VersionEquals(1)).await,
        &f.pk,
        "IDEM#expired",
    );
    assert_condition_failed(
        f.store
            .delete(&f.pk, "IDEM#expired", Condition::Exists)
            .await,
        &f.pk,
        "IDEM#expired",
    );
    let fresh = item(
        &f.pk,
        "IDEM#expired",
        json!({"ttl": future, "response": "new"}),
    );
    f.store.put(fresh, Condition::NotExists).await.unwrap();
    let stored = f.store.get(&f.pk, "IDEM#expired").await.unwrap().unwrap();
    assert_eq!(stored["response"], "new");
    assert!(
        stored.get("version").is_none(),
        "the put replaced the whole item"
    );

    // In a transaction too.
    put(&f, "IDEM#gone", json!({"ttl": past})).await;
    let ops = vec![WriteOp::Put {
        item: item(&f.pk, "IDEM#gone", json!({})),
        condition: Condition::NotExists,
    }];
    f.store.transact(ops).await.unwrap();
    assert!(f.store.get(&f.pk, "IDEM#gone").await.unwrap().is_some());
}

async fn json_round_trip(f: Fixture) {
    let body = json!({
        "name": "Ünïcode ✓", "empty": "", "zero": 0, "negative": -42,
        "big": 9_007_199_254_740_993u64, "max": u64::MAX, "fraction": 0.1, "small": 1.5e-7,
        "yes": true, "no": false, "nothing": null,
        "list": [1, "two", [3.5, [false, null]], {"k": "v"}],
        "map": {"nested": {"deeper": {"list": [], "map": {}}}, "n": -0.5},
        "amount": "12.3400"
    });
    put(&f, "DOC", body.clone()).await;
    let mut want = body.as_object().unwrap().clone();
    want.insert("pk".into(), f.pk.clone().into());
    want.insert("sk".into(), "DOC".into());
    let got = f.store.get(&f.pk, "DOC").await.unwrap().unwrap();
    assert_eq!(got, want);
    let page = f
        .store
        .query(Query::new(&f.pk, SortKey::All))
        .await
        .unwrap();
    assert_eq!(page.items, vec![want]);

    // Integral floats read back as integers on both backends (DynamoDB
    // keeps no distinction between 1 and 1.0).
    put(
        &f,
        "FLOATS",
        json!({"one": 1.0, "thousand": 1e3, "list": [2.0, 2.5]}),
    )
    .await;
    let got = f.store.get(&f.pk, "FLOATS").await.unwrap().unwrap();
    assert_eq!(
        (
            got["one"].clone(),
            got["thousand"].clone(),
            got["list"].clone()
        ),
        (json!(1), json!(1000), json!([2, 2.5]))
    );
}

async fn invalid_items_are_refused(f: Fixture) {
    let no_sk = json!({"pk": f.pk}).as_object().cloned().unwrap();
    assert_invalid(f.store.put(no_sk, Condition::None).await);
    let numeric_sk = json!({"pk": f.pk, "sk": 5}).as_object().cloned().unwrap();
    assert_invalid(f.store.put(numeric_sk, Condition::None).await);
    assert_invalid(
        f.store
            .put(item(&f.pk, "", json!({})), Condition::None)
            .await,
    );
    assert_invalid(
        f.store
            .put(item(&f.pk, "N", json!({"n": 1e300})), Condition::None)
            .await,
    );
    let huge = "x".repeat(401 * 1024);
    assert_invalid(
        f.store
            .put(item(&f.pk, "BIG", json!({"blob": huge})), Condition::None)
            .await,
    );
    assert_invalid(f.store.get(&f.pk, "").await);
    assert_invalid(f.store.query(Query::new("", SortKey::All)).await);
    assert_eq!(
        query_sks(&f, SortKey::All, false).await,
        Vec::<String>::new()
    );
}

async fn concurrent_creates_have_one_winner(f: Fixture) {
    let attempts = (0..8).map(|n| {
        let store = f.store.clone();
        let it = item(&f.pk, "TENANT", json!({"writer": n}));
        tokio::spawn(async move { store.put(it, Condition::NotExists).await })
    });
    let results = futures::future::join_all(attempts).await;
    let mut wins = 0;
    for result in results {
        match result.expect("task") {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

async fn ensure_table_is_idempotent_and_ping_answers(f: Fixture) {
    // The fixture already ensured the table, so it exists now.
    assert!(!f.store.ensure_table().await.unwrap());
    f.store.ping().await.unwrap();
}

// ---------------------------------------------------------------- one backend

mod dynamo_only {
    use super::*;

    #[tokio::test]
    async fn ensure_table_creates_once_with_ttl() {
        let table = unique("valdrix-t-");
        let store = store::open(&dynamo_url(&table)).await.unwrap();
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(store.ensure_table().await.unwrap());
        assert!(!store.ensure_table().await.unwrap());
        store.ping().await.unwrap();
        let ttl = json!({"pk": "P", "sk": "S", "ttl": now() + 60});
        store
            .put(ttl.as_object().cloned().unwrap(), Condition::NotExists)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable_quickly() {
        // A port nobody listens on: refused at once, reported as Unavailable.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let url = StoreUrl::DynamoDb {
            table: CONTRACT_TABLE.into(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: None,
        };
        let store = store::open(&url).await.unwrap();
        let started = Instant::now();
        let err = store.ping().await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        assert!(err.to_string().len() < 100, "a short message: {err}");
    }

    /// Stops the private instance even when an assertion fails first.
    struct KillOnDrop(std::process::Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A private DynamoDB Local that goes away mid-life: the same store then
    /// answers Unavailable within the timeouts (what a health check needs).
    #[tokio::test]
    async fn store_turns_unavailable_when_dynamodb_local_stops() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut child = KillOnDrop(
            valdrix_tests::dynamodb_local_command(port)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn DynamoDB Local"),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private DynamoDB Local did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let url = StoreUrl::DynamoDb {
            table: CONTRACT_TABLE.into(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: None,
        };
        let store = store::open(&url).await.unwrap();
        assert!(store.ensure_table().await.unwrap());
        store.ping().await.unwrap();

        child.0.kill().expect("stop DynamoDB Local");
        child.0.wait().expect("reap DynamoDB Local");
        let started = Instant::now();
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(6));
    }
}

mod sqlite_only {
    use super::*;

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::Sqlite {
            path: dir.path().join("db.sqlite").to_string_lossy().into_owned(),
        };
        let first = store::open(&url).await.unwrap();
        first
            .put(item("P", "S", json!({"kept": true})), Condition::NotExists)
            .await
            .unwrap();
        drop(first);
        let second = store::open(&url).await.unwrap();
        assert_eq!(second.get("P", "S").await.unwrap().unwrap()["kept"], true);
    }

    /// The embedded store knows when a page is the last one.
    #[tokio::test]
    async fn no_cursor_after_the_last_page() {
        let f = sqlite().await;
        for i in 0..14 {
            put(&f, &format!("I#{i:02}"), json!({})).await;
        }
        let sizes: Vec<usize> = all_pages(&f, SortKey::All, false, 7)
            .await
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [7, 7]);
    }
}

// ---------------------------------------------------------------- batches

/// More keys than one BatchGetItem takes, some missing, some expired: every
/// answer in the keys' order.
async fn batch_get_answers_in_key_order(f: Fixture) {
    let n = store::MAX_BATCH_GET * 2 + 7;
    let sks: Vec<String> = (0..n).map(|i| format!("B#{i:04}")).collect();
    let present: Vec<Item> = sks
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(i, sk)| {
            let ttl = if i % 5 == 0 { now() - 60 } else { now() + 3600 };
            item(&f.pk, sk, json!({ "n": i, "ttl": ttl }))
        })
        .collect();
    f.store.batch_put(present).await.expect("batch put");
    let keys: Vec<(String, String)> = sks
        .iter()
        .rev()
        .map(|sk| (f.pk.clone(), sk.clone()))
        .collect();
    let got = f.store.batch_get(keys).await.expect("batch get");
    assert_eq!(got.len(), n);
    for (answer, i) in got.iter().zip((0..n).rev()) {
        let expected = i % 3 != 0 && i % 5 != 0;
        assert_eq!(answer.is_some(), expected, "key {i}");
        if let Some(item) = answer {
            assert_eq!(item["n"], json!(i));
        }
    }
}

/// A batch put replaces unconditionally, in chunks beyond BatchWriteItem's 25.
async fn batch_put_writes_and_replaces(f: Fixture) {
    let items = |v: u32| {
        (0..store::MAX_BATCH_PUT * 3 + 1)
            .map(|i| item(&f.pk, &format!("P#{i:03}"), json!({ "v": v, "version": 1 })))
            .collect::<Vec<_>>()
    };
    f.store.batch_put(items(1)).await.expect("first");
    f.store.batch_put(items(2)).await.expect("second");
    let all = all_pages(&f, SortKey::Prefix("P#".into()), false, 1000).await;
    assert_eq!(all.concat().len(), store::MAX_BATCH_PUT * 3 + 1);
    let one = f.store.get(&f.pk, "P#042").await.unwrap().unwrap();
    assert_eq!(one["v"], json!(2));
    f.store
        .batch_put(Vec::new())
        .await
        .expect("an empty batch is nothing to do");
}

/// DynamoDB refuses a key twice in one batch; so does the embedded store.
async fn batch_refuses_repeated_keys(f: Fixture) {
    let key = (f.pk.clone(), "R#1".to_owned());
    let err = f.store.batch_get(vec![key.clone(), key]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let twice = vec![item(&f.pk, "R#1", json!({})), item(&f.pk, "R#1", json!({}))];
    let err = f.store.batch_put(twice).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(f.store.get(&f.pk, "R#1").await.unwrap().is_none());
}
