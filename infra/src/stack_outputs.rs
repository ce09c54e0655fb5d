//! The stack's outputs as `aws cloudformation describe-stacks` writes them,
//! for `valdrix migrate --stack-outputs` (TableName) and `valdrix smoke
//! --stack-outputs` (ApiUrl): no copying of generated names by hand.
//!
//!     aws cloudformation describe-stacks --stack-name valdrix \
//!       --query "Stacks[0].Outputs" > outputs.json
//!
//! Either that list or the whole describe-stacks answer is accepted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

pub const TABLE_NAME: &str = "TableName";
pub const API_URL: &str = "ApiUrl";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    output_key: String,
    output_value: String,
}

/// Every output, by key.
pub fn read(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|_| format!("{} is not JSON", path.display()))?;
    let list = match value.pointer("/Stacks/0/Outputs") {
        Some(outputs) => outputs.clone(),
        None => value,
    };
    let outputs: Vec<Output> = serde_json::from_value(list).map_err(|_| {
        format!(
            "{} is not a list of stack outputs (OutputKey, OutputValue)",
            path.display()
        )
    })?;
    Ok(outputs
        .into_iter()
        .map(|o| (o.output_key, o.output_value))
        .collect())
}

/// One output the command needs.
pub fn get(path: &Path, key: &str) -> Result<String, String> {
    read(path)?.remove(key).ok_or_else(|| {
        format!(
            "{} has no {key} output (is it this stack's?)",
            path.display()
        )
    })
}
