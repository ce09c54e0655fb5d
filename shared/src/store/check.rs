//! The rules both backends apply before touching storage, so a request the
//! DynamoDB service refuses is refused by the embedded store too, with the
//! same error.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Number, Value};

use super::{
    Condition, Item, MAX_TRANSACTION_OPS, Query, SortKey, StoreError, TTL_ATTRIBUTE, WriteOp,
};

/// DynamoDB's limits: item size, key sizes, nesting depth, page size.
const MAX_ITEM_BYTES: usize = 400 * 1024;
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;
const MAX_DEPTH: usize = 32;
pub(crate) const MAX_LIMIT: u32 = 1000;
/// DynamoDB numbers: magnitude in [1e-130, 1e126), or zero.
const MIN_MAGNITUDE: f64 = 1e-130;
const MAX_MAGNITUDE: f64 = 1e126;

/// Now, in epoch seconds: items whose numeric `ttl` is below it are absent.
pub(crate) fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// True when the item has a numeric `ttl` in the past (DynamoDB ignores a
/// `ttl` of another type, and so do we).
pub(crate) fn is_expired(item: &Item, now: i64) -> bool {
    item.get(TTL_ATTRIBUTE)
        .and_then(Value::as_f64)
        .is_some_and(|ttl| ttl < now as f64)
}

/// Whether `condition` holds given the live item (`None` when absent or expired).
/// The embedded store's check (DynamoDB evaluates its own).
#[cfg(any(feature = "sqlite", test))]
pub(crate) fn condition_holds(condition: &Condition, live: Option<&Item>) -> bool {
    match condition {
        Condition::None => true,
        Condition::NotExists => live.is_none(),
        Condition::Exists => live.is_some(),
        Condition::VersionEquals(want) => live
            .and_then(|item| item.get(super::VERSION_ATTRIBUTE))
            .and_then(Value::as_number)
            .is_some_and(|n| number_equals(n, *want)),
    }
}

#[cfg(any(feature = "sqlite", test))]
fn number_equals(n: &Number, want: u64) -> bool {
    match n.as_u64() {
        Some(v) => v == want,
        None => n.as_f64() == Some(want as f64),
    }
}

pub(crate) fn key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid("pk and sk must be non-empty".into()));
    }
    if pk.len() > MAX_PK_BYTES || sk.len() > MAX_SK_BYTES {
        return Err(StoreError::Invalid(
            "pk is limited to 2048 bytes and sk to 1024".into(),
        ));
    }
    Ok(())
}

/// Validates an item for a put and canonicalises its numbers as DynamoDB
/// does (`1.0` reads back as `1`); returns its key.
pub(crate) fn item(item: &mut Item) -> Result<(String, String), StoreError> {
    let (Some(Value::String(pk)), Some(Value::String(sk))) = (item.get("pk"), item.get("sk"))
    else {
        return Err(StoreError::Invalid(
            "an item needs string attributes pk and sk".into(),
        ));
    };
    let (pk, sk) = (pk.clone(), sk.clone());
    key(&pk, &sk)?;
    let mut size = 0;
    for (name, value) in item.iter_mut() {
        if name.is_empty() {
            return Err(StoreError::Invalid("empty attribute name".into()));
        }
        size += name.len() + value_size(value, 1)?;
    }
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::Invalid("item exceeds 400 KB".into()));
    }
    Ok((pk, sk))
}

/// DynamoDB's item-size accounting (approximately), checking depth and
/// number range and canonicalising integral numbers on the way.
fn value_size(value: &mut Value, depth: usize) -> Result<usize, StoreError> {
    Ok(match value {
        Value::Null | Value::Bool(_) => 1,
        Value::String(s) => s.len(),
        Value::Number(n) => {
            *n = canonical_number(n)?;
            n.to_string().len() / 2 + 1
        }
        Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => {
            return Err(StoreError::Invalid(
                "item nests deeper than 32 levels".into(),
            ));
        }
        Value::Array(items) => {
            let mut size = 3;
            for v in items {
                size += 1 + value_size(v, depth + 1)?;
            }
            size
        }
        Value::Object(map) => {
            let mut size = 3;
            for (k, v) in map.iter_mut() {
                size += 1 + k.len() + value_size(v, depth + 1)?;
            }
            size
        }
    })
}

fn canonical_number(n: &Number) -> Result<Number, StoreError> {
    let Some(x) = n.as_f64().filter(|_| n.is_f64()) else {
        return Ok(n.clone());
    };
    let magnitude = x.abs();
    if magnitude != 0.0 && !(MIN_MAGNITUDE..MAX_MAGNITUDE).contains(&magnitude) {
        return Err(StoreError::Invalid(
            "number outside DynamoDB's range (1e-130 to 1e126)".into(),
        ));
    }
    // 2^63 and 2^64 are exact in f64; integral values below them fit.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    Ok(if x.fract() != 0.0 {
        n.clone()
    } else if (-I64_END..I64_END).contains(&x) {
        Number::from(x as i64)
    } else if (0.0..U64_END).contains(&x) {
        Number::from(x as u64)
    } else {
        n.clone()
    })
}

pub(crate) fn query(query: &Query) -> Result<(), StoreError> {
    if query.pk.is_empty() {
        return Err(StoreError::Invalid("query pk must be non-empty".into()));
    }
    if !(1..=MAX_LIMIT).contains(&query.limit) {
        return Err(StoreError::Invalid("query limit must be 1..=1000".into()));
    }
    if let SortKey::Between(low, high) = &query.sk
        && low > high
    {
        return Err(StoreError::Invalid("BETWEEN needs low <= high".into()));
    }
    if let Some(cursor) = &query.cursor {
        // DynamoDB refuses a start key outside the key condition, too.
        let in_range = match &query.sk {
            SortKey::All => true,
            SortKey::Prefix(p) => cursor.sk.starts_with(p.as_str()),
            SortKey::Between(low, high) => (low..=high).contains(&&cursor.sk),
        };
        if cursor.pk != query.pk || !in_range {
            return Err(StoreError::InvalidCursor);
        }
    }
    Ok(())
}

/// Validates a batch read's keys: each well formed, none repeated.
pub(crate) fn batch_keys(keys: &[(String, String)]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(keys.len());
    for (pk, sk) in keys {
        key(pk, sk)?;
        if !seen.insert((pk, sk)) {
            return Err(StoreError::Invalid("a batch names a key twice".into()));
        }
    }
    Ok(())
}

/// Validates a batch write's items (as [`item`] does) and returns their keys.
pub(crate) fn batch_items(items: &mut [Item]) -> Result<Vec<(String, String)>, StoreError> {
    let keys = items.iter_mut().map(item).collect::<Result<Vec<_>, _>>()?;
    batch_keys(&keys)?;
    Ok(keys)
}

/// Validates a transaction (size, one op per key, conditions, items) and
/// returns each op's key.
pub(crate) fn transaction(ops: &mut [WriteOp]) -> Result<Vec<(String, String)>, StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1..={MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut keys = Vec::with_capacity(ops.len());
    let mut seen = HashSet::with_capacity(ops.len());
    for op in ops.iter_mut() {
        let key_of = match op {
            WriteOp::Put { item: it, .. } => item(it)?,
            WriteOp::Delete { pk, sk, .. } => {
                key(pk, sk)?;
                (pk.clone(), sk.clone())
            }
            WriteOp::Check { pk, sk, condition } => {
                key(pk, sk)?;
                if *condition == Condition::None {
                    return Err(StoreError::Invalid("a Check op needs a condition".into()));
                }
                (pk.clone(), sk.clone())
            }
        };
        if !seen.insert(key_of.clone()) {
            return Err(StoreError::Invalid(format!(
                "two operations on {}/{} in one transaction",
                key_of.0, key_of.1
            )));
        }
        keys.push(key_of);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn canonicalises_integral_floats_like_dynamodb() {
        let mut it = obj(json!({"pk": "a", "sk": "b", "x": 1.0, "y": [-0.0, 1.5], "z": 1e19}));
        item(&mut it).unwrap();
        assert_eq!(
            json!(it),
            json!({"pk": "a", "sk": "b", "x": 1, "y": [0, 1.5], "z": 10_000_000_000_000_000_000u64})
        );
    }

    #[test]
    fn refuses_what_dynamodb_refuses() {
        for bad in [
            json!({"pk": "a"}),
            json!({"pk": "", "sk": "b"}),
            json!({"pk": 1, "sk": "b"}),
            json!({"pk": "a", "sk": "b", "n": 1e300}),
            json!({"pk": "a", "sk": "b", "": 1}),
            json!({"pk": "a", "sk": "b", "big": "x".repeat(410 * 1024)}),
        ] {
            assert!(matches!(item(&mut obj(bad)), Err(StoreError::Invalid(_))));
        }
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        let mut it = obj(json!({"pk": "a", "sk": "b", "deep": deep}));
        assert!(matches!(item(&mut it), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn expiry_and_conditions() {
        let now = 1_000;
        let live = obj(json!({"pk": "a", "sk": "b", "version": 3, "ttl": 1_000}));
        assert!(!is_expired(&live, now));
        assert!(is_expired(&obj(json!({"ttl": 999})), now));
        assert!(!is_expired(&obj(json!({"ttl": "999"})), now));
        assert!(condition_holds(&Condition::VersionEquals(3), Some(&live)));
        assert!(!condition_holds(&Condition::VersionEquals(4), Some(&live)));
        assert!(!condition_holds(&Condition::VersionEquals(3), None));
        assert!(condition_holds(&Condition::NotExists, None));
        assert!(!condition_holds(&Condition::Exists, None));
    }
}
