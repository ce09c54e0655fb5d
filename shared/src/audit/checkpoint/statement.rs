//! What a checkpoint signs: six short lines of text, so that `openssl dgst
//! -sha256 -verify` checks the file as it is and a shell can read it.
//!
//! ```text
//! valdrix audit checkpoint v1
//! tenant acme
//! seq 42
//! head <64 hex: the hash of event 42>
//! time 2026-11-27T08:00:00.000Z
//! key <64 hex: SHA-256 of the signing key's SubjectPublicKeyInfo DER>
//! ```

pub const STATEMENT_HEADER: &str = "valdrix audit checkpoint v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub tenant_id: String,
    pub seq: u64,
    pub head_hash: String,
    /// UTC, RFC 3339 with `Z`, milliseconds.
    pub signed_at: String,
    pub key_id: String,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Statement {
    /// The exact bytes signed, each line ended by `\n`.
    pub fn text(&self) -> String {
        format!(
            "{STATEMENT_HEADER}\ntenant {}\nseq {}\nhead {}\ntime {}\nkey {}\n",
            self.tenant_id, self.seq, self.head_hash, self.signed_at, self.key_id
        )
    }

    /// The statement `text` holds, only when `text` is exactly its form.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        if lines.next()? != STATEMENT_HEADER {
            return None;
        }
        let mut field = |name: &str| {
            lines
                .next()?
                .strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::to_owned)
        };
        let statement = Self {
            tenant_id: field("tenant")?,
            seq: field("seq")?.parse().ok()?,
            head_hash: field("head")?,
            signed_at: field("time")?,
            key_id: field("key")?,
        };
        let canonical = lines.next().is_none()
            && is_hex64(&statement.head_hash)
            && is_hex64(&statement.key_id)
            && statement.text() == text;
        canonical.then_some(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_the_documented_form_and_parses_back() {
        let s = Statement {
            tenant_id: "acme".into(),
            seq: 42,
            head_hash: "ab".repeat(32),
            signed_at: "2026-11-27T08:00:00.000Z".into(),
            key_id: "cd".repeat(32),
        };
        let text = s.text();
        assert_eq!(
            text,
            format!(
                "valdrix audit checkpoint v1\ntenant acme\nseq 42\nhead {}\ntime 2026-11-27T08:00:00.000Z\nkey {}\n",
                "ab".repeat(32),
                "cd".repeat(32)
            )
        );
        assert_eq!(Statement::parse(&text), Some(s));
        for broken in [
            text.replace("seq 42", "seq 042"),
            text.replace("seq 42", "seq  42"),
            text.trim_end().to_owned(),
            format!("{text}extra\n"),
            text.replace(&"ab".repeat(32), &"AB".repeat(32)),
        ] {
            assert_eq!(Statement::parse(&broken), None, "{broken}");
        }
    }
}
