//! JSON ↔ DynamoDB attribute values: string→S, number→N, bool→BOOL,
//! null→NULL, array→L, object→M, and back. Numbers come back as integers
//! when integral (i64, else u64) and as f64 otherwise.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

use crate::store::{Item, StoreError};

pub(crate) type AttributeMap = HashMap<String, AttributeValue>;

pub(crate) fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(to_attributes(map)),
    }
}

pub(crate) fn to_attributes(item: &Map<String, Value>) -> AttributeMap {
    item.iter()
        .map(|(k, v)| (k.clone(), to_attribute(v)))
        .collect()
}

pub(crate) fn from_attribute(value: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attribute).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::Object(from_attributes(map)?),
        // Sets and binary are never written by this store.
        _ => return Err(foreign()),
    })
}

pub(crate) fn from_attributes(map: &AttributeMap) -> Result<Item, StoreError> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), from_attribute(v)?)))
        .collect()
}

fn parse_number(text: &str) -> Result<Number, StoreError> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(foreign)
}

fn foreign() -> StoreError {
    StoreError::Unavailable("dynamodb: item holds a value this store cannot read".into())
}

/// The table key of an item.
pub(crate) fn key(pk: &str, sk: &str) -> AttributeMap {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.to_string())),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trip() {
        let v = json!({
            "s": "x", "i": -3, "u": u64::MAX, "f": 1.5, "b": true, "n": null,
            "l": [1, "a", [false], {"m": {}}], "m": {"deep": {"list": []}}
        });
        let back = Value::Object(from_attributes(&to_attributes(v.as_object().unwrap())).unwrap());
        assert_eq!(back, v);
    }

    #[test]
    fn numbers_as_dynamodb_returns_them() {
        assert_eq!(parse_number("1000").unwrap(), Number::from(1000));
        assert_eq!(parse_number("0.0000001").unwrap().as_f64(), Some(1e-7));
        assert_eq!(
            parse_number("100000000000000000000").unwrap().as_f64(),
            Some(1e20)
        );
        assert!(parse_number("NaN").is_err());
    }
}
