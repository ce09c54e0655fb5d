//! Where the contract's variables come from: the process env, a dotenv file
//! (CLI only), and the optional Secrets Manager secret that fills the gaps.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::Violation;
use super::vars::{VALDRIX_RUNTIME_SECRET_ARN, VALDRIX_RUNTIME_SECRET_VERSION};

/// A snapshot of variables. An empty value counts as unset everywhere.
#[derive(Clone, Default)]
pub struct VarSet {
    vars: BTreeMap<String, String>,
}

// Values may be secrets: Debug prints the names only.
impl std::fmt::Debug for VarSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl VarSet {
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The process env; variables whose name or value is not UTF-8 are skipped.
    pub fn from_process_env() -> Self {
        Self::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Only the variables a dotenv file sets.
    pub fn from_dotenv_file(path: &Path) -> Result<Self, String> {
        let label = path.display().to_string();
        let file = std::fs::File::open(path)
            // The kind ("entity not found", "permission denied") names no content.
            .map_err(|e| format!("cannot read env file {label}: {}", e.kind()))?;
        Self::from_dotenv_reader(file, &label)
    }

    /// Only the variables a dotenv text sets; `label` names the source in errors,
    /// which never quote the text. Public for the fuzz target (`fuzz/`).
    pub fn from_dotenv_reader(reader: impl Read, label: &str) -> Result<Self, String> {
        let mut vars = BTreeMap::new();
        for (line, item) in dotenvy::from_read_iter(reader).enumerate() {
            let (k, v) = item.map_err(|e| {
                format!(
                    "cannot parse env file {label} near entry {}: {}",
                    line + 1,
                    safe(&e)
                )
            })?;
            vars.insert(k, v);
        }
        Ok(Self { vars })
    }

    /// The value, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Names of every variable with a non-empty value.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// Fill every unset (or empty) variable from `other`; present values win.
    pub fn fill_from(&mut self, other: VarSet) {
        for (k, v) in other.vars {
            if self.get(&k).is_none() {
                self.vars.insert(k, v);
            }
        }
    }
}

/// dotenvy's errors may quote the offending line, which could hold a secret:
/// keep only the kind of error.
fn safe(e: &dotenvy::Error) -> &'static str {
    match e {
        dotenvy::Error::LineParse(..) => "malformed line",
        dotenvy::Error::Io(..) => "I/O error",
        dotenvy::Error::EnvVar(..) => "bad variable",
        _ => "unreadable",
    }
}

/// Turn the runtime secret's JSON text into variables. Strings are taken as
/// they are; numbers and booleans as their JSON text; anything else is refused.
pub fn parse_secret_json(text: &str) -> Result<VarSet, Violation> {
    let bad = |rule: &str| Violation::new(VALDRIX_RUNTIME_SECRET_ARN, rule);
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| bad("the secret's value is not valid JSON"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad(
            "the secret's value must be a JSON object of variable names",
        ));
    };
    let mut vars = BTreeMap::new();
    for (k, v) in map {
        let text = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => {
                return Err(bad(&format!(
                    "the secret's entry {k} must be a string, number or boolean"
                )));
            }
        };
        vars.insert(k, text);
    }
    Ok(VarSet { vars })
}

/// Read the runtime secret named by `VALDRIX_RUNTIME_SECRET_ARN`, when set, and
/// fill what `vars` leaves unset. A secret that cannot be read or parsed is a
/// violation, never a silent fallback to env alone.
pub async fn merge_runtime_secret(
    vars: &mut VarSet,
    aws: &crate::aws::Aws,
) -> Result<(), Violation> {
    let Some(arn) = vars.get(VALDRIX_RUNTIME_SECRET_ARN).map(str::to_owned) else {
        return Ok(());
    };
    let client = aws_sdk_secretsmanager::Client::new(aws.config().await);
    // A pinned version: a changed secret reaches the functions only through
    // a deployment (new versions, the hook), never at a random cold start.
    let version = vars.get(VALDRIX_RUNTIME_SECRET_VERSION).map(str::to_owned);
    let text = fetch_secret_string(&client, &arn, version).await?;
    vars.fill_from(parse_secret_json(&text)?);
    Ok(())
}

async fn fetch_secret_string(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    version: Option<String>,
) -> Result<String, Violation> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .set_version_id(version)
        .send()
        .await
        .map_err(|e| {
            // The SDK error names the service's error code, never the secret.
            let code = aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("unreachable")
                .to_owned();
            tracing::error!(error = %aws_sdk_secretsmanager::error::DisplayErrorContext(&e), "runtime secret read failed");
            Violation::new(
                VALDRIX_RUNTIME_SECRET_ARN,
                format!("the secret could not be read from Secrets Manager ({code})"),
            )
        })?;
    out.secret_string.ok_or_else(|| {
        Violation::new(
            VALDRIX_RUNTIME_SECRET_ARN,
            "the secret has no string value (binary secrets are not supported)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_counts_as_unset() {
        let vars = VarSet::from_pairs([("A", ""), ("B", "x")]);
        assert_eq!(vars.get("A"), None);
        assert_eq!(vars.get("B"), Some("x"));
        assert_eq!(vars.names().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn fill_keeps_present_values_and_fills_empty_ones() {
        let mut vars = VarSet::from_pairs([("A", "env"), ("B", "")]);
        vars.fill_from(VarSet::from_pairs([
            ("A", "secret"),
            ("B", "s"),
            ("C", "c"),
        ]));
        assert_eq!(vars.get("A"), Some("env"));
        assert_eq!(vars.get("B"), Some("s"));
        assert_eq!(vars.get("C"), Some("c"));
    }

    #[test]
    fn secret_json_shapes() {
        let ok = parse_secret_json(r#"{"A":"x","B":true,"C":3,"D":null}"#).unwrap();
        assert_eq!(ok.get("B"), Some("true"));
        assert_eq!(ok.get("C"), Some("3"));
        assert_eq!(ok.get("D"), None);
        for bad in ["not json", "[1]", r#"{"A":{"b":1}}"#, "\"s\""] {
            let v = parse_secret_json(bad).unwrap_err();
            assert_eq!(v.variable, VALDRIX_RUNTIME_SECRET_ARN, "{bad}");
        }
    }

    #[test]
    fn debug_prints_names_only() {
        let vars = VarSet::from_pairs([("TOKEN", "hunter2-very-secret")]);
        let shown = format!("{vars:?}");
        assert!(shown.contains("TOKEN"));
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn dotenv_file_holds_only_its_own_variables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.env");
        std::fs::write(
            &path,
            "# comment\nENVIRONMENT=production\nCORS_ORIGINS='[\"https://app.example.com\"]'\nEMPTY=\n",
        )
        .unwrap();
        let vars = VarSet::from_dotenv_file(&path).unwrap();
        assert_eq!(vars.get("ENVIRONMENT"), Some("production"));
        assert_eq!(
            vars.get("CORS_ORIGINS"),
            Some(r#"["https://app.example.com"]"#)
        );
        assert_eq!(vars.get("PATH"), None);
        assert_eq!(vars.get("EMPTY"), None);
        let missing = VarSet::from_dotenv_file(&dir.path().join("nope.env")).unwrap_err();
        assert!(missing.ends_with("nope.env: entity not found"), "{missing}");
    }
}
