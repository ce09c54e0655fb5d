//! Typed records to and from store items: the record's fields plus `pk`, `sk`
//! and the optimistic-concurrency `version`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
use serde_json::Value;

use super::{Item, StoreError, VERSION_ATTRIBUTE};

/// The item for `record` at (`pk`, `sk`) with the given `version`.
pub fn to_item<T: Serialize>(pk: &str, sk: &str, version: u64, record: &T) -> Item {
    let mut item = match serde_json::to_value(record).expect("record serializes") {
        Value::Object(map) => map,
        other => {
            let mut map = Item::new();
            map.insert("value".into(), other);
            map
        }
    };
    item.insert("pk".into(), pk.into());
    item.insert("sk".into(), sk.into());
    item.insert(VERSION_ATTRIBUTE.into(), version.into());
    item
}

/// The record stored in `item`, and its version (0 when the item has none).
pub fn from_item<T: DeserializeOwned>(item: &Item) -> Result<(T, u64), StoreError> {
    let version = item
        .get(VERSION_ATTRIBUTE)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    // Read in place, the key attributes skipped: no copy of the item (a
    // ledger page is 1,000 of them, and an export reads millions).
    let fields = item
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "pk" | "sk" | VERSION_ATTRIBUTE))
        .map(|(k, v)| (k.as_str(), v));
    let record = T::deserialize(MapDeserializer::<_, serde_json::Error>::new(fields))
        .map_err(|e| mismatch(item.get("pk"), item.get("sk"), e))?;
    Ok((record, version))
}

/// The record stored in `item`, taking its values instead of copying them
/// (for pages read only to be decoded: a ledger export reads millions).
pub fn into_record<T: DeserializeOwned>(mut item: Item) -> Result<T, StoreError> {
    let (pk, sk) = (item.remove("pk"), item.remove("sk"));
    item.remove(VERSION_ATTRIBUTE);
    T::deserialize(MapDeserializer::<_, serde_json::Error>::new(
        item.into_iter(),
    ))
    .map_err(|e| mismatch(pk.as_ref(), sk.as_ref(), e))
}

fn mismatch(pk: Option<&Value>, sk: Option<&Value>, e: serde_json::Error) -> StoreError {
    StoreError::Invalid(format!(
        "stored item {}/{} does not match its record type: {e}",
        pk.and_then(Value::as_str).unwrap_or("?"),
        sk.and_then(Value::as_str).unwrap_or("?"),
    ))
}
