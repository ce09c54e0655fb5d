//! Embedded SQLite backend of the store (`sqlite://<path>`, `valdrix serve`).
//!
//! One table keyed by (pk, sk); the item is its JSON text and `ttl` is copied
//! into a column so expiry can be filtered in SQL. SQLite's default BINARY
//! collation compares TEXT with memcmp, i.e. by UTF-8 bytes, which is
//! DynamoDB's sort-key order. Calls run on the blocking pool, one at a time
//! through the mutex; every write is one SQLite transaction.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde_json::Value;

use super::check::{self, now_epoch};
use super::{
    Condition, Cursor, Item, Page, Query, SortKey, Store, StoreError, TTL_ATTRIBUTE, WriteOp,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk   TEXT NOT NULL,
    sk   TEXT NOT NULL,
    body TEXT NOT NULL,  -- the item as a JSON object
    ttl  INTEGER,        -- the item's numeric `ttl`, epoch seconds
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;";

/// Only live rows: DynamoDB deletes expired items lazily, so reads filter them.
const LIVE: &str = "(ttl IS NULL OR ttl >= ?)";

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating parent directories, file and schema) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {}", dir.display(), e.kind()))
            })?;
        }
        Self::init(Connection::open(path).map_err(sql_error)?)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(sql_error)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        // Another process (e.g. the CLI) may hold the write lock for a moment.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql_error)?;
        // A new file gets 16 KiB pages (a ledger item is about 1 KiB of JSON;
        // a 4 KiB page of this WITHOUT ROWID table holds three); it applies
        // only before the first write. A 16 MiB page cache keeps most of a
        // large tenant's reads off the kernel's read path (with the default
        // 2 MiB a 100k-row ingest spent over half its time in pread). The file
        // is not mapped: mapped pages count in the process's resident set,
        // which would then grow with the table (an export of 100k rows
        // peaked at 230 MiB with a 1 GiB mapping and a 64 MiB cache).
        conn.pragma_update(None, "page_size", 16384)
            .map_err(sql_error)?;
        conn.pragma_update(None, "cache_size", -16384)
            .map_err(sql_error)?;
        conn.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(sql_error)?;
        // WAL lets readers run beside a writer; NORMAL is durable across
        // application crashes, which is what a local store needs.
        // (An in-memory database keeps its own journal mode; that's fine.)
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_error)?;
        conn.execute_batch(SCHEMA).map_err(sql_error)?;
        // Expired rows are invisible already; dropping them here keeps the file small.
        conn.execute("DELETE FROM items WHERE ttl < ?", [now_epoch()])
            .map_err(sql_error)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut lock(&conn)))
            .await
            .map_err(|_| StoreError::Unavailable("sqlite task failed".into()))?
    }
}

/// A panic while holding the lock leaves no open transaction behind
/// (rusqlite rolls back on drop), so a poisoned lock is safe to reuse.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn sql_error(e: rusqlite::Error) -> StoreError {
    let detail = match e.sqlite_error_code() {
        Some(code) => format!("{code:?}"),
        None => "sqlite error".to_string(),
    };
    StoreError::Unavailable(format!("sqlite: {detail}"))
}

fn parse_body(body: &str) -> Result<Item, StoreError> {
    serde_json::from_str(body).map_err(|_| StoreError::Unavailable("sqlite: corrupt item".into()))
}

/// The `ttl` column: the item's numeric `ttl`, anything else means none.
fn ttl_column(item: &Item) -> SqlValue {
    match item.get(TTL_ATTRIBUTE) {
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => SqlValue::Integer(i),
            (None, Some(f)) => SqlValue::Real(f),
            (None, None) => SqlValue::Null,
        },
        _ => SqlValue::Null,
    }
}

fn get_live(conn: &Connection, pk: &str, sk: &str, now: i64) -> Result<Option<Item>, StoreError> {
    let sql = format!("SELECT body FROM items WHERE pk = ? AND sk = ? AND {LIVE}");
    conn.prepare_cached(&sql)
        .map_err(sql_error)?
        .query_row(params![pk, sk, now], |row| row.get::<_, String>(0))
        .optional()
        .map_err(sql_error)?
        .map(|body| parse_body(&body))
        .transpose()
}

fn holds(
    conn: &Connection,
    pk: &str,
    sk: &str,
    condition: &Condition,
    now: i64,
) -> Result<bool, StoreError> {
    if *condition == Condition::None {
        return Ok(true);
    }
    Ok(check::condition_holds(
        condition,
        get_live(conn, pk, sk, now)?.as_ref(),
    ))
}

fn write_put(conn: &Connection, pk: &str, sk: &str, item: &Item) -> Result<(), StoreError> {
    let body = serde_json::to_string(item)
        .map_err(|_| StoreError::Invalid("item is not serialisable".into()))?;
    conn.prepare_cached("INSERT OR REPLACE INTO items (pk, sk, body, ttl) VALUES (?, ?, ?, ?)")
        .and_then(|mut s| s.execute(params![pk, sk, body, ttl_column(item)]))
        .map_err(sql_error)?;
    Ok(())
}

fn write_delete(conn: &Connection, pk: &str, sk: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM items WHERE pk = ? AND sk = ?", params![pk, sk])
        .map_err(sql_error)?;
    Ok(())
}

fn run_query(conn: &Connection, q: &Query, now: i64) -> Result<Page, StoreError> {
    let mut sql = format!("SELECT sk, body FROM items WHERE pk = ? AND {LIVE}");
    let mut args = vec![SqlValue::Text(q.pk.clone()), SqlValue::Integer(now)];
    // With a cursor, the range bound on the cursor's side is left out when
    // the cursor is tighter: SQLite seeks the index on one lower (upper)
    // bound only, so two would make every page scan from the range's start
    // and paging through a partition quadratic.
    let after = q
        .cursor
        .as_ref()
        .filter(|_| !q.descending)
        .map(|c| c.sk.as_str());
    let before = q
        .cursor
        .as_ref()
        .filter(|_| q.descending)
        .map(|c| c.sk.as_str());
    match &q.sk {
        SortKey::All => {}
        SortKey::Prefix(p) if p.is_empty() => {}
        SortKey::Prefix(p) => {
            // Every string starting with `p` sorts in [p, p + 0xF5): no UTF-8
            // byte after `p` can exceed 0xF4. The bound is cast to TEXT so the
            // comparison stays a byte comparison, and the index range scan holds.
            let mut upper = p.as_bytes().to_vec();
            upper.push(0xF5);
            if after.is_none_or(|c| c < p.as_str()) {
                sql.push_str(" AND sk >= ?");
                args.push(SqlValue::Text(p.clone()));
            }
            if before.is_none_or(|c| c.as_bytes() >= upper.as_slice()) {
                sql.push_str(" AND sk < CAST(? AS TEXT)");
                args.push(SqlValue::Blob(upper));
            }
        }
        SortKey::Between(low, high) => {
            if after.is_none_or(|c| c < low.as_str()) {
                sql.push_str(" AND sk >= ?");
                args.push(SqlValue::Text(low.clone()));
            }
            if before.is_none_or(|c| c > high.as_str()) {
                sql.push_str(" AND sk <= ?");
                args.push(SqlValue::Text(high.clone()));
            }
        }
    }
    if let Some(cursor) = &q.cursor {
        sql.push_str(if q.descending {
            " AND sk < ?"
        } else {
            " AND sk > ?"
        });
        args.push(SqlValue::Text(cursor.sk.clone()));
    }
    sql.push_str(if q.descending {
        " ORDER BY sk DESC"
    } else {
        " ORDER BY sk ASC"
    });
    // One row more than asked tells whether another page exists.
    sql.push_str(" LIMIT ?");
    args.push(SqlValue::Integer(i64::from(q.limit) + 1));

    let mut stmt = conn.prepare(&sql).map_err(sql_error)?;
    let rows = stmt
        .query_map(params_from_iter(args), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(sql_error)?;
    let mut items = Vec::new();
    let mut last_sk = None;
    let mut more = false;
    for row in rows {
        let (sk, body) = row.map_err(sql_error)?;
        if items.len() == q.limit as usize {
            more = true;
            break;
        }
        items.push(parse_body(&body)?);
        last_sk = Some(sk);
    }
    let next_cursor = match (more, last_sk) {
        (true, Some(sk)) => Some(Cursor {
            pk: q.pk.clone(),
            sk,
        }),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check::key(pk, sk)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.with(move |conn| get_live(conn, &pk, &sk, now_epoch()))
            .await
    }

    async fn put(&self, mut item: Item, condition: Condition) -> Result<(), StoreError> {
        let (pk, sk) = check::item(&mut item)?;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            if !holds(&tx, &pk, &sk, &condition, now_epoch())? {
                return Err(StoreError::ConditionFailed { pk, sk });
            }
            write_put(&tx, &pk, &sk, &item)?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check::key(pk, sk)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            if !holds(&tx, &pk, &sk, &condition, now_epoch())? {
                return Err(StoreError::ConditionFailed { pk, sk });
            }
            write_delete(&tx, &pk, &sk)?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        check::query(&query)?;
        self.with(move |conn| run_query(conn, &query, now_epoch()))
            .await
    }

    async fn transact(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let keys = check::transaction(&mut ops)?;
        self.with(move |conn| {
            let now = now_epoch();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            // Check every condition before the first write, as DynamoDB does;
            // dropping `tx` on an early return rolls back.
            for (index, (op, (pk, sk))) in ops.iter().zip(&keys).enumerate() {
                let condition = match op {
                    WriteOp::Put { condition, .. }
                    | WriteOp::Delete { condition, .. }
                    | WriteOp::Check { condition, .. } => condition,
                };
                if !holds(&tx, pk, sk, condition, now)? {
                    return Err(StoreError::TransactionConditionFailed {
                        index,
                        pk: pk.clone(),
                        sk: sk.clone(),
                    });
                }
            }
            for (op, (pk, sk)) in ops.iter().zip(&keys) {
                match op {
                    WriteOp::Put { item, .. } => write_put(&tx, pk, sk, item)?,
                    WriteOp::Delete { .. } => write_delete(&tx, pk, sk)?,
                    WriteOp::Check { .. } => {}
                }
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        check::batch_keys(&keys)?;
        self.with(move |conn| {
            let now = now_epoch();
            keys.iter()
                .map(|(pk, sk)| get_live(conn, pk, sk, now))
                .collect()
        })
        .await
    }

    /// One SQLite transaction for the whole batch (DynamoDB's is per item;
    /// nothing can observe the difference but speed).
    async fn batch_put(&self, mut items: Vec<Item>) -> Result<(), StoreError> {
        let keys = check::batch_items(&mut items)?;
        if items.is_empty() {
            return Ok(());
        }
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            for (item, (pk, sk)) in items.iter().zip(&keys) {
                write_put(&tx, pk, sk, item)?;
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(sql_error)
        })
        .await
    }

    /// The schema is created by `open`; nothing is ever missing here.
    #[cfg(feature = "provision")]
    async fn ensure_table(&self) -> Result<bool, StoreError> {
        self.with(|conn| conn.execute_batch(SCHEMA).map_err(sql_error))
            .await
            .map(|()| false)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    /// The prefix bound must hold for the highest code points too.
    #[tokio::test]
    async fn prefix_covers_every_continuation() {
        let store = SqliteStore::open_in_memory().unwrap();
        for sk in [
            "A",
            "A\u{7f}",
            "A\u{10FFFF}\u{10FFFF}",
            "A\u{FFFF}",
            "B",
            "@",
        ] {
            store
                .put(item(json!({"pk": "p", "sk": sk})), Condition::None)
                .await
                .unwrap();
        }
        let page = store
            .query(Query::new("p", SortKey::Prefix("A".into())))
            .await
            .unwrap();
        let sks: Vec<_> = page
            .items
            .iter()
            .map(|i| i["sk"].as_str().unwrap())
            .collect();
        assert_eq!(sks, ["A", "A\u{7f}", "A\u{FFFF}", "A\u{10FFFF}\u{10FFFF}"]);
    }

    #[tokio::test]
    async fn open_creates_parent_dirs_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/db.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let mode: String = lock(&store.conn)
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        store
            .put(
                item(json!({"pk": "p", "sk": "s", "n": 1})),
                Condition::NotExists,
            )
            .await
            .unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.get("p", "s").await.unwrap().unwrap()["n"], 1);
    }
}
