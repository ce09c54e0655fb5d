//! CloudFormation's intrinsic functions over the SAM-transformed template:
//! `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, against the values
//! the local stack created. Anything it does not know is an error naming it, so
//! a template change the local stack cannot honour stops it at start.

use std::collections::HashMap;

use serde_json::Value;

/// What `Ref` and `Fn::GetAtt` resolve to.
#[derive(Default)]
pub struct Values {
    /// Parameters, pseudo parameters (`AWS::Region`) and resources, by name.
    pub refs: HashMap<String, Value>,
    /// `(logical id, attribute)` of resources.
    pub attrs: HashMap<(String, String), String>,
    /// The local URL of each HTTP API, by logical id: what its
    /// `https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}` becomes.
    pub api_urls: HashMap<String, String>,
}

impl Values {
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.refs
            .insert(name.to_owned(), Value::String(value.into()));
    }

    pub fn set_attr(&mut self, id: &str, attr: &str, value: impl Into<String>) {
        self.attrs
            .insert((id.to_owned(), attr.to_owned()), value.into());
    }

    /// The value with every intrinsic function replaced.
    pub fn resolve(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(arg),
                    "Fn::Sub" => self.sub(arg).map(Value::String),
                    "Fn::GetAtt" => self.get_att(arg).map(Value::String),
                    "Fn::Join" => self.join(arg).map(Value::String),
                    "Fn::Select" => self.select(arg),
                    "Fn::Split" => self.split(arg),
                    other if other.starts_with("Fn::") || other == "Condition" => {
                        Err(format!("{other} is not supported by the local stack"))
                    }
                    _ => self.resolve_object(map),
                }
            }
            Value::Object(map) => self.resolve_object(map),
            Value::Array(items) => items.iter().map(|v| self.resolve(v)).collect(),
            other => Ok(other.clone()),
        }
    }

    /// The value as a string (numbers and booleans as their text), as
    /// CloudFormation passes environment variables.
    pub fn resolve_string(&self, value: &Value) -> Result<String, String> {
        match self.resolve(value)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("{other} is not a string")),
        }
    }

    fn resolve_object(&self, map: &serde_json::Map<String, Value>) -> Result<Value, String> {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
            .collect::<Result<serde_json::Map<_, _>, String>>()
            .map(Value::Object)
    }

    fn reference(&self, arg: &Value) -> Result<Value, String> {
        let name = arg.as_str().ok_or("Ref takes a name")?;
        self.refs
            .get(name)
            .cloned()
            .ok_or_else(|| format!("Ref {name}: unknown to the local stack"))
    }

    fn get_att(&self, arg: &Value) -> Result<String, String> {
        let (id, attr) = match arg {
            Value::Array(parts) if parts.len() == 2 => (
                parts[0].as_str().unwrap_or_default().to_owned(),
                self.resolve_string(&parts[1])?,
            ),
            Value::String(dotted) => match dotted.split_once('.') {
                Some((id, attr)) => (id.to_owned(), attr.to_owned()),
                None => return Err(format!("Fn::GetAtt {dotted}: no attribute")),
            },
            _ => return Err("Fn::GetAtt takes [id, attribute]".into()),
        };
        self.attrs
            .get(&(id.clone(), attr.clone()))
            .cloned()
            .ok_or_else(|| format!("Fn::GetAtt {id}.{attr}: unknown to the local stack"))
    }

    fn sub(&self, arg: &Value) -> Result<String, String> {
        let (text, vars) = match arg {
            Value::String(text) => (text.as_str(), serde_json::Map::new()),
            Value::Array(parts) if parts.len() == 2 => (
                parts[0]
                    .as_str()
                    .ok_or("Fn::Sub: the template is not a string")?,
                parts[1].as_object().cloned().unwrap_or_default(),
            ),
            _ => return Err("Fn::Sub takes a string or [string, map]".into()),
        };
        // An API's invoke URL is the local front's URL.
        let mut text = text.to_owned();
        for (api, url) in &self.api_urls {
            let remote =
                format!("https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}");
            text = text.replace(&remote, url);
        }
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Fn::Sub {text:?}: unclosed ${{"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.resolve_string(v)?);
            } else if let Some((id, attr)) = name.split_once('.') {
                out.push_str(&self.get_att(&Value::String(format!("{id}.{attr}")))?);
            } else {
                out.push_str(&self.resolve_string(&serde_json::json!({ "Ref": name }))?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn join(&self, arg: &Value) -> Result<String, String> {
        let parts = arg.as_array().filter(|p| p.len() == 2);
        let parts = parts.ok_or("Fn::Join takes [separator, list]")?;
        let sep = parts[0].as_str().ok_or("Fn::Join: separator")?;
        let list = self.resolve(&parts[1])?;
        let items = list.as_array().ok_or("Fn::Join: not a list")?;
        let strings: Result<Vec<String>, String> =
            items.iter().map(|v| self.resolve_string(v)).collect();
        Ok(strings?.join(sep))
    }

    fn split(&self, arg: &Value) -> Result<Value, String> {
        let parts = arg.as_array().filter(|p| p.len() == 2);
        let parts = parts.ok_or("Fn::Split takes [separator, string]")?;
        let sep = parts[0].as_str().ok_or("Fn::Split: separator")?;
        let text = self.resolve_string(&parts[1])?;
        Ok(Value::Array(
            text.split(sep)
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ))
    }

    fn select(&self, arg: &Value) -> Result<Value, String> {
        let parts = arg.as_array().filter(|p| p.len() == 2);
        let parts = parts.ok_or("Fn::Select takes [index, list]")?;
        let index: usize = self
            .resolve_string(&parts[0])?
            .parse()
            .map_err(|_| "Fn::Select: index")?;
        let list = self.resolve(&parts[1])?;
        list.as_array()
            .and_then(|l| l.get(index).cloned())
            .ok_or_else(|| format!("Fn::Select: no item {index}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn values() -> Values {
        let mut v = Values::default();
        v.set("AWS::Region", "us-east-1");
        v.set("AWS::URLSuffix", "amazonaws.com");
        v.set("Table", "stack-Table-ABC");
        v.set("Api", "local");
        v.set_attr("Table", "StreamArn", "arn:stream");
        v.refs
            .insert("Origins".into(), json!(["http://a", "http://b"]));
        v.api_urls
            .insert("Api".into(), "http://127.0.0.1:3000".into());
        v
    }

    #[test]
    fn resolves_nested_intrinsics() {
        let v = values();
        let template = json!({
            "A": {"Fn::Sub": "dynamodb://${Table}"},
            "B": {"Fn::GetAtt": ["Table", "StreamArn"]},
            "C": {"Fn::Sub": ["${X}-${Table.StreamArn}-${!Literal}", {"X": {"Ref": "AWS::Region"}}]},
            "D": {"Fn::Join": [",", {"Ref": "Origins"}]},
            "E": [{"Fn::Select": [1, {"Ref": "Origins"}]}, 3, true],
            "F": {"Fn::Join": ["|", {"Fn::Split": [",", "a,b"]}]},
        });
        assert_eq!(
            v.resolve(&template).unwrap(),
            json!({
                "A": "dynamodb://stack-Table-ABC",
                "B": "arn:stream",
                "C": "us-east-1-arn:stream-${Literal}",
                "D": "http://a,http://b",
                "F": "a|b",
                "E": ["http://b", 3, true],
            })
        );
    }

    #[test]
    fn the_api_url_is_the_local_front() {
        let v = values();
        let url = json!({"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"});
        assert_eq!(v.resolve_string(&url).unwrap(), "http://127.0.0.1:3000");
        // The id alone stays the id.
        assert_eq!(v.resolve_string(&json!({"Ref": "Api"})).unwrap(), "local");
    }

    #[test]
    fn unknown_names_and_functions_are_errors() {
        let v = values();
        for (bad, says) in [
            (json!({"Ref": "Nope"}), "Ref Nope"),
            (json!({"Fn::Sub": "x-${Nope}"}), "Ref Nope"),
            (json!({"Fn::GetAtt": ["Table", "Arn"]}), "Table.Arn"),
            (json!({"Fn::If": ["C", 1, 2]}), "Fn::If"),
        ] {
            let err = v.resolve(&bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
