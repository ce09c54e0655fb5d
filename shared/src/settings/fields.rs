//! The rule of each settings field, by the vendor's own rules where the
//! field names something of the vendor's: settings that pass here can work.
//! `docs/openapi.yaml` (`SettingsUpdate`) states the same rules.

use crate::validate;

fn ok_if(valid: bool, rule: &str) -> Result<(), String> {
    if valid { Ok(()) } else { Err(rule.to_owned()) }
}

fn all(value: &str, allowed: impl Fn(char) -> bool) -> bool {
    value.chars().all(allowed)
}

fn slug(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-".contains(c)
}

/// Slack: a conversation id (C/G/U and 8-20 more of A-Z, 0-9) or a channel
/// name, which Slack keeps to 80 lowercase letters, digits, `-` and `_`.
pub fn slack_channel(v: &str) -> Result<(), String> {
    let valid = match v.strip_prefix('#') {
        Some(name) => {
            (1..=80).contains(&name.len())
                && all(name, |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                })
        }
        None => {
            (9..=21).contains(&v.len())
                && v.starts_with(['C', 'G', 'U'])
                && all(v, |c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }
    };
    ok_if(
        valid,
        "must be a channel id (C0123456789) or #channel-name (lowercase letters, digits, - and _)",
    )
}

/// Jira: an uppercase letter, then 1-9 uppercase letters, digits or `_`.
pub fn jira_project_key(v: &str) -> Result<(), String> {
    let valid = (2..=10).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_uppercase())
        && all(v, |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
        });
    ok_if(
        valid,
        "must be a Jira project key like OPS (an uppercase letter, then 1-9 of A-Z, 0-9, _)",
    )
}

pub fn jira_issue_type(v: &str) -> Result<(), String> {
    validate::text(v, 1, 64)
}

/// GitHub: 1-39 letters, digits and single inner hyphens.
pub fn github_owner(v: &str) -> Result<(), String> {
    let valid = (1..=39).contains(&v.len())
        && all(v, |c| c.is_ascii_alphanumeric() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-')
        && !v.contains("--");
    ok_if(
        valid,
        "must be a GitHub user or organisation: 1-39 letters, digits and single inner hyphens",
    )
}

/// GitHub: 1-100 of letters, digits, `.`, `-`, `_`, not only dots.
pub fn github_repo(v: &str) -> Result<(), String> {
    let valid = (1..=100).contains(&v.len()) && all(v, slug) && v.chars().any(|c| c != '.');
    ok_if(
        valid,
        "must be a GitHub repository name: 1-100 letters, digits, '.', '-' or '_', not only dots",
    )
}

/// A workflow's numeric id, or its file name under `.github/workflows/`.
pub fn github_workflow_id(v: &str) -> Result<(), String> {
    let numeric = (1..=20).contains(&v.len()) && all(v, |c| c.is_ascii_digit());
    let file = v.len() <= 200
        && [".yml", ".yaml"].iter().any(|ext| {
            v.strip_suffix(ext)
                .is_some_and(|stem| !stem.is_empty() && all(stem, slug))
        });
    ok_if(
        numeric || file,
        "must be a workflow file name (deploy.yml) or a numeric workflow id",
    )
}

/// git's own rules for a branch or tag name (`git check-ref-format`), at
/// most 100 characters.
pub fn git_ref(v: &str) -> Result<(), String> {
    let bad_char = |c: char| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c);
    let valid = (1..=100).contains(&v.chars().count())
        && !v.chars().any(bad_char)
        && !v.contains("..")
        && !v.contains("@{")
        && v != "@"
        && !v.ends_with('.')
        && v.split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"));
    ok_if(valid, "must be a git branch or tag name")
}

/// GitLab: a numeric project id, or `namespace/project` whose parts start
/// with a letter, digit or `_` and hold letters, digits, `_`, `.` and `-`.
pub fn gitlab_project(v: &str) -> Result<(), String> {
    let numeric = (1..=20).contains(&v.len()) && all(v, |c| c.is_ascii_digit());
    let segments: Vec<&str> = v.split('/').collect();
    let path = v.len() <= 255
        && segments.len() >= 2
        && segments.iter().all(|s| {
            s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') && all(s, slug)
        });
    ok_if(
        numeric || path,
        "must be a numeric GitLab project id or a namespace/project path",
    )
}

/// A credential: 8-1024 characters, none of them a space or control
/// character (it travels in an HTTP header).
pub fn secret(v: &str) -> Result<(), String> {
    validate::length(v, 8, 1024)?;
    ok_if(
        validate::visible(v),
        "must not contain spaces or control characters",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rule = fn(&str) -> Result<(), String>;

    #[test]
    fn vendor_rules() {
        let cases: [(Rule, &[&str], &[&str]); 7] = [
            (
                slack_channel,
                &["#finops-alerts", "C0123456789"],
                &["#Ops", "#a b", "C01", "#"],
            ),
            (
                jira_project_key,
                &["OPS", "A1_B"],
                &["ops", "O", "1OPS", "ABCDEFGHIJK"],
            ),
            (
                github_owner,
                &["acme", "a-c-me", "a"],
                &["..", "-acme", "acme-", "a--b", "a.b"],
            ),
            (
                github_repo,
                &["infra", ".github", "a.b_c-d"],
                &["..", ".", "a/b", ""],
            ),
            (
                github_workflow_id,
                &["deploy.yml", "ci.yaml", "123"],
                &["deploy", ".yml", "a/b.yml"],
            ),
            (
                git_ref,
                &["main", "release/1.2", "v1.0"],
                &[
                    "..", "a..b", "a b", "/x", "x/", "a.lock", ".hidden", "x@{1}", "@",
                ],
            ),
            (
                gitlab_project,
                &["42", "group/project", "g/sub/p.x"],
                &["project", "group/../x", "g/.x", "/p", "g//p"],
            ),
        ];
        for (rule, good, bad) in cases {
            for v in good {
                assert!(rule(v).is_ok(), "{v} should pass");
            }
            for v in bad {
                assert!(rule(v).is_err(), "{v} should fail");
            }
        }
        assert!(secret("abcdefgh").is_ok());
        assert!(secret("abc defgh").is_err());
        assert!(secret("abcdefg\n").is_err());
    }
}
