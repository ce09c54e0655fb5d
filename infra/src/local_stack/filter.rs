//! Lambda's event filtering (`FilterCriteria.Filters[].Pattern`): a record is
//! handed to the function when any pattern matches it. A pattern is JSON whose
//! leaves are lists of allowed values: literals, or `prefix`, `suffix`,
//! `exists` and `anything-but` objects. Other operators are refused when the
//! mapping is read, so a template using one fails the local stack at start.

use serde_json::Value;

pub struct Filters(Vec<Value>);

impl Filters {
    /// The mapping's `FilterCriteria` (absent: everything matches).
    pub fn parse(criteria: &Value) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for f in criteria["Filters"].as_array().into_iter().flatten() {
            let text = f["Pattern"].as_str().ok_or("a filter without a Pattern")?;
            let pattern: Value =
                serde_json::from_str(text).map_err(|e| format!("filter pattern {text}: {e}"))?;
            check(&pattern)?;
            patterns.push(pattern);
        }
        Ok(Self(patterns))
    }

    pub fn matches(&self, record: &Value) -> bool {
        self.0.is_empty() || self.0.iter().any(|p| object_matches(p, record))
    }
}

const OPERATORS: [&str; 4] = ["prefix", "suffix", "exists", "anything-but"];

fn check(pattern: &Value) -> Result<(), String> {
    match pattern {
        Value::Object(map) => map.values().try_for_each(check),
        Value::Array(items) => items.iter().try_for_each(|item| match item {
            Value::Object(op) => match op.keys().next().map(String::as_str) {
                Some(k) if op.len() == 1 && OPERATORS.contains(&k) => Ok(()),
                _ => Err(format!("filter operator {item} is not supported locally")),
            },
            _ => Ok(()),
        }),
        other => Err(format!("filter pattern leaf {other} must be a list")),
    }
}

fn object_matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(key, want)| {
        let got = event.get(key);
        match want {
            Value::Object(_) => got.is_some_and(|g| object_matches(want, g)),
            Value::Array(allowed) => allowed.iter().any(|a| leaf_matches(a, got)),
            _ => false,
        }
    })
}

/// One allowed value against the field (absent: `None`; a list: any element).
fn leaf_matches(allowed: &Value, got: Option<&Value>) -> bool {
    if let Some(Value::Array(items)) = got {
        return items.iter().any(|g| leaf_matches(allowed, Some(g)));
    }
    let text = got.and_then(Value::as_str);
    match allowed {
        Value::Object(op) => match op.iter().next() {
            Some((k, v)) if k == "prefix" => {
                text.zip(v.as_str()).is_some_and(|(t, p)| t.starts_with(p))
            }
            Some((k, v)) if k == "suffix" => {
                text.zip(v.as_str()).is_some_and(|(t, s)| t.ends_with(s))
            }
            Some((k, v)) if k == "exists" => v.as_bool() == Some(got.is_some()),
            Some((k, v)) if k == "anything-but" => got.is_some_and(|g| match v {
                Value::Array(list) => !list.contains(g),
                other => other != g,
            }),
            _ => false,
        },
        literal => got == Some(literal),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The pattern of template.yaml's stream mapping.
    fn deliveries() -> Filters {
        Filters::parse(&json!({"Filters": [{"Pattern":
            r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "DELIVERY#"}]}}}}"#}]}))
        .unwrap()
    }

    fn record(event: &str, sk: &str) -> Value {
        json!({"eventName": event, "dynamodb": {"NewImage": {"sk": {"S": sk}, "pk": {"S": "POLICY#e"}}}})
    }

    #[test]
    fn the_templates_pattern_keeps_new_deliveries_only() {
        let f = deliveries();
        assert!(f.matches(&record("INSERT", "DELIVERY#slack")));
        assert!(!f.matches(&record("MODIFY", "DELIVERY#slack")));
        assert!(!f.matches(&record("INSERT", "EVENT")));
        assert!(!f.matches(&json!({"eventName": "REMOVE", "dynamodb": {"Keys": {}}})));
    }

    #[test]
    fn operators_and_alternatives() {
        let f = Filters::parse(&json!({"Filters": [
            {"Pattern": r#"{"a": [{"suffix": ".csv"}], "b": [{"exists": false}]}"#},
            {"Pattern": r#"{"c": [{"anything-but": ["x", "y"]}], "d": [1, "one"]}"#},
        ]}))
        .unwrap();
        assert!(f.matches(&json!({"a": "costs.csv"})));
        assert!(!f.matches(&json!({"a": "costs.csv", "b": 1})));
        assert!(f.matches(&json!({"c": "z", "d": 1})));
        assert!(f.matches(&json!({"c": "z", "d": ["two", "one"]})));
        assert!(!f.matches(&json!({"c": "x", "d": 1})));
        assert!(
            Filters::parse(&json!({}))
                .unwrap()
                .matches(&json!({"any": 1}))
        );
    }

    #[test]
    fn unsupported_operators_are_refused() {
        let err =
            Filters::parse(&json!({"Filters": [{"Pattern": r#"{"n": [{"numeric": [">", 1]}]}"#}]}));
        assert!(err.err().unwrap().contains("numeric"));
    }
}
