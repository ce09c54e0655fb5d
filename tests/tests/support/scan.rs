//! Looking for secrets in bytes: each secret as itself and in the simple
//! encodings a careless line of code would produce.

use base64::Engine;

/// A secret and where it came from, for the report.
pub struct Secret {
    pub name: String,
    pub value: Vec<u8>,
}

pub fn secret(name: impl Into<String>, value: impl AsRef<[u8]>) -> Secret {
    Secret {
        name: name.into(),
        value: value.as_ref().to_vec(),
    }
}

/// What a secret looks like in text: itself, its hex, its URL encoding, and
/// its base64 (standard and URL-safe) at each of the three alignments it can
/// have inside a longer encoded value.
pub fn encodings(value: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut out = vec![
        ("raw", value.to_vec()),
        ("hex", hex::encode(value).into_bytes()),
        ("HEX", hex::encode_upper(value).into_bytes()),
        (
            "url-encoded",
            url::form_urlencoded::byte_serialize(value)
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    for (name, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE_NO_PAD)] {
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(value);
            let encoded = engine.encode(&shifted);
            // Only the characters made of the secret's bits alone.
            let start = (offset * 8).div_ceil(6);
            let end = shifted.len() * 8 / 6;
            out.push((name, encoded.as_bytes()[start..end].to_vec()));
        }
    }
    // Short fragments would match innocent text; one name per distinct needle.
    out.retain(|(_, e)| e.len() >= 12);
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, e)| seen.insert(e.clone()));
    out
}

/// "<secret> (<encoding>) in <haystack>" for every place a secret shows.
pub fn find_leaks(secrets: &[Secret], haystacks: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut names = Vec::new();
    let mut needles = Vec::new();
    for s in secrets {
        for (encoding, needle) in encodings(&s.value) {
            names.push(format!("{} ({encoding})", s.name));
            needles.push(needle);
        }
    }
    let searcher = aho_corasick::AhoCorasick::new(&needles).expect("needles");
    let mut found = Vec::new();
    for (label, hay) in haystacks {
        for m in searcher.find_overlapping_iter(hay) {
            found.push(format!("{} in {label}", names[m.pattern().as_usize()]));
        }
    }
    found.sort();
    found.dedup();
    found
}
