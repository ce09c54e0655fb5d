//! Condition, key-condition and filter expressions. The TTL clauses make an
//! expired item (numeric `ttl` in the past, not yet deleted by DynamoDB) count
//! as absent: `#ttl < :now` is false when `ttl` is missing or not a number.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::convert::AttributeMap;
use crate::store::{Condition, Query, SortKey, TTL_ATTRIBUTE, VERSION_ATTRIBUTE};

/// An expression with its placeholders.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    pub text: String,
    pub names: HashMap<String, String>,
    pub values: AttributeMap,
}

/// The optional pieces a request builder's `set_*` methods take.
pub(crate) type ExprParts = (
    Option<String>,
    Option<HashMap<String, String>>,
    Option<AttributeMap>,
);

impl Expr {
    fn name(&mut self, placeholder: &str, attribute: &str) {
        self.names.insert(placeholder.into(), attribute.into());
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) {
        self.values.insert(placeholder.into(), value);
    }

    pub(crate) fn parts(expr: Option<Expr>) -> ExprParts {
        match expr {
            Some(e) => (Some(e.text), Some(e.names), Some(e.values)),
            None => (None, None, None),
        }
    }
}

fn now_value(now: i64) -> AttributeValue {
    AttributeValue::N(now.to_string())
}

/// The ConditionExpression of a write; `None` for an unconditional one.
pub(crate) fn condition(condition: &Condition, now: i64) -> Option<Expr> {
    let text = match condition {
        Condition::None => return None,
        Condition::NotExists => "attribute_not_exists(#pk) OR #ttl < :now",
        Condition::Exists => "attribute_exists(#pk) AND NOT #ttl < :now",
        Condition::VersionEquals(_) => "#v = :v AND NOT #ttl < :now",
    };
    let mut e = Expr {
        text: text.into(),
        ..Expr::default()
    };
    e.name("#ttl", TTL_ATTRIBUTE);
    e.value(":now", now_value(now));
    if let Condition::VersionEquals(v) = condition {
        e.name("#v", VERSION_ATTRIBUTE);
        e.value(":v", AttributeValue::N(v.to_string()));
    } else {
        e.name("#pk", "pk");
    }
    Some(e)
}

/// The KeyConditionExpression and FilterExpression of a query; they share
/// one set of placeholders, as the request does.
pub(crate) fn query(query: &Query, now: i64) -> (String, Expr) {
    let mut e = Expr::default();
    e.name("#pk", "pk");
    e.value(":pk", AttributeValue::S(query.pk.clone()));
    let key = match &query.sk {
        SortKey::All => "#pk = :pk".to_string(),
        // DynamoDB refuses an empty begins_with operand; it means "all".
        SortKey::Prefix(p) if p.is_empty() => "#pk = :pk".to_string(),
        SortKey::Prefix(p) => {
            e.name("#sk", "sk");
            e.value(":prefix", AttributeValue::S(p.clone()));
            "#pk = :pk AND begins_with(#sk, :prefix)".to_string()
        }
        SortKey::Between(low, high) => {
            e.name("#sk", "sk");
            e.value(":low", AttributeValue::S(low.clone()));
            e.value(":high", AttributeValue::S(high.clone()));
            "#pk = :pk AND #sk BETWEEN :low AND :high".to_string()
        }
    };
    e.name("#ttl", TTL_ATTRIBUTE);
    e.value(":now", now_value(now));
    e.text = "NOT #ttl < :now".into();
    (key, e)
}
