//! The compliance pack check: the downloaded ZIP against the API's hash and
//! size, then every file against `manifest.json`.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use serde_json::Value;
use sha2::{Digest, Sha256};
use valdrix_shared::exports::proof::{SUMS_PATH, SUMS_SIG_PATH};

/// What a verified pack held.
#[derive(Debug, PartialEq, Eq)]
pub struct PackSummary {
    /// The manifest's files, all present with their size and hash.
    pub files: Vec<String>,
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Check a compliance pack ZIP against the API's `sha256`/`bytes`, then every
/// `manifest.json` file entry against the ZIP's member of that path.
pub fn verify_pack(zip: &[u8], sha256: &str, bytes: u64) -> Result<PackSummary, String> {
    if zip.len() as u64 != bytes {
        return Err(format!(
            "the pack is {} bytes, the API said {bytes}",
            zip.len()
        ));
    }
    let actual = sha256_hex(zip);
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(format!(
            "the pack's sha256 is {actual}, the API said {sha256}"
        ));
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a ZIP: {e}"))?;
    let read = |archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str| {
        let mut file = archive
            .by_name(name)
            .map_err(|_| format!("{name} is missing from the pack"))?;
        let mut out = Vec::new();
        file.read_to_end(&mut out)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        Ok::<_, String>(out)
    };
    let manifest: Value = serde_json::from_slice(&read(&mut archive, "manifest.json")?)
        .map_err(|e| format!("manifest.json is not JSON: {e}"))?;
    let entries = manifest["files"]
        .as_array()
        .ok_or("manifest.json has no files list")?;
    if entries.is_empty() {
        return Err("manifest.json lists no files".into());
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for entry in entries {
        let (Some(path), Some(want_sha), Some(want_bytes)) = (
            entry["path"].as_str(),
            entry["sha256"].as_str(),
            entry["bytes"].as_u64(),
        ) else {
            problems.push(format!(
                "manifest entry {entry} lacks path, sha256 or bytes"
            ));
            continue;
        };
        if !seen.insert(path.to_owned()) {
            problems.push(format!("{path} is listed twice"));
            continue;
        }
        match read(&mut archive, path) {
            Err(e) => problems.push(e),
            Ok(content) => {
                if content.len() as u64 != want_bytes {
                    problems.push(format!(
                        "{path}: {} bytes, manifest says {want_bytes}",
                        content.len()
                    ));
                }
                let got = sha256_hex(&content);
                if !got.eq_ignore_ascii_case(want_sha) {
                    problems.push(format!("{path}: sha256 {got}, manifest says {want_sha}"));
                }
            }
        }
    }
    // Every other member must be listed: an unlisted file is unverified.
    for name in archive.file_names().filter_map(Result::ok) {
        let name: &str = &name;
        let signed_after = [SUMS_PATH, SUMS_SIG_PATH].contains(&name);
        if name != "manifest.json" && !signed_after && !name.ends_with('/') && !seen.contains(name)
        {
            problems.push(format!("{name} is in the pack but not in manifest.json"));
        }
    }
    if problems.is_empty() {
        Ok(PackSummary {
            files: seen.into_iter().collect(),
        })
    } else {
        problems.sort();
        Err(problems.join("; "))
    }
}
