//! SSRF guard for every outbound URL (standards.md §3.2).
//!
//! Two layers: [`check_url`] judges the parsed URL (scheme, credentials, literal
//! IPs in any notation, local names) before anything touches the network, and
//! [`resolve_checked`] refuses a name when ANY of its DNS answers is non-public.
//! The client runs the second layer inside its resolver, so the address it
//! connects to is the one that was checked.

mod ip;
mod resolve;

use std::net::IpAddr;

use url::{Host, Url};

use crate::config::RuntimeConfig;

pub use ip::is_public_ip;
#[cfg(feature = "outbound")]
pub(crate) use resolve::lookup_checked;
pub use resolve::{Lookup, SystemLookup, resolve_checked, resolve_checked_with};

/// What the guard lets through. `Policy::default()` is the production policy:
/// https only, public addresses only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Plain `http://` URLs (local fakes only).
    pub allow_http: bool,
    /// Loopback, private and other non-public targets (local fakes only).
    pub allow_private: bool,
}

impl Policy {
    /// The allowance comes only from `VALDRIX_ALLOW_PRIVATE_OUTBOUND`, and never
    /// in staging or production. The contract already refuses that combination;
    /// checking again here means a hand-built config cannot open the door either.
    pub fn from_config(config: &RuntimeConfig) -> Self {
        let local = config.allow_private_outbound && !config.environment.is_strict();
        Self {
            allow_http: local,
            allow_private: local,
        }
    }
}

/// Why a URL or host was refused. The text names the host or address at most,
/// never the path or query (tenant URLs often carry tokens there).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a valid absolute URL starting https://")]
    Malformed,
    #[error("URL must not contain spaces or control characters")]
    Invisible,
    #[error(
        "host `{0}` is not a name DNS can hold (labels of 1-63 characters, at most 253 in all)"
    )]
    NotDnsName(String),
    #[error("scheme `{0}` is not allowed: use https")]
    Scheme(String),
    #[error("URL must not carry credentials")]
    Credentials,
    #[error("URL has no host")]
    NoHost,
    #[error("host `{0}` is a local or internal name")]
    LocalName(String),
    #[error("host `{0}` ends in a number: an IP address in some notation, or invalid")]
    NumericName(String),
    #[error("address {0} is not public")]
    NonPublicAddress(IpAddr),
    #[error("host `{host}` resolves to non-public address {addr}")]
    ResolvesNonPublic { host: String, addr: IpAddr },
    #[error("host `{0}` could not be resolved")]
    Unresolvable(String),
}

impl Refusal {
    /// DNS failures may clear up on their own; every other refusal is final.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unresolvable(_))
    }
}

/// Parses `url` and runs the static checks on it. Judged on the text as sent
/// too: the parser silently drops tabs and line breaks, and what is stored and
/// shown must be what is called.
pub fn check_url(url: &str, policy: &Policy) -> Result<Url, Refusal> {
    if !crate::validate::visible(url) {
        return Err(Refusal::Invisible);
    }
    let parsed = Url::parse(url).map_err(|_| Refusal::Malformed)?;
    check_parsed(&parsed, policy)?;
    // The parser also reads `HTTPS:host` and `https:/host` as https URLs.
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Refusal::Malformed);
    }
    Ok(parsed)
}

/// The static checks on an already parsed URL. For `http`/`https` the `url`
/// crate has already normalised decimal, hex, octal and short IPv4 forms
/// (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) into `Host::Ipv4`.
pub fn check_parsed(url: &Url, policy: &Policy) -> Result<(), Refusal> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        other => return Err(Refusal::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    match url.host() {
        None => Err(Refusal::NoHost),
        Some(Host::Ipv4(ip)) => check_ip(ip.into(), policy),
        Some(Host::Ipv6(ip)) => check_ip(ip.into(), policy),
        Some(Host::Domain(name)) => {
            check_name(name, policy)?;
            check_dns_lengths(name)
        }
    }
}

/// RFC 1035: labels of 1-63 octets, at most 253 in all (without the root's
/// dot). The parser has already turned the name into ASCII (punycode).
fn check_dns_lengths(name: &str) -> Result<(), Refusal> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    let fits = bare.len() <= 253 && bare.split('.').all(|l| (1..=63).contains(&l.len()));
    if fits {
        Ok(())
    } else {
        Err(Refusal::NotDnsName(truncate(name)))
    }
}

/// A refused host is named in the answer; a huge one only by its start.
fn truncate(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &name[..i]),
        None => name.to_owned(),
    }
}

pub(crate) fn check_ip(ip: IpAddr, policy: &Policy) -> Result<(), Refusal> {
    if policy.allow_private || is_public_ip(ip) {
        Ok(())
    } else {
        Err(Refusal::NonPublicAddress(ip))
    }
}

/// Suffixes that only ever name something on this machine or a private network.
const LOCAL_SUFFIXES: [&str; 5] = ["localhost", "local", "internal", "localdomain", "home.arpa"];

/// Refuses local names and single-label names (resolved through search domains,
/// so they reach internal services). A name that is really an IP is judged as one.
pub(crate) fn check_name(name: &str, policy: &Policy) -> Result<(), Refusal> {
    if policy.allow_private {
        return Ok(());
    }
    let bare = name.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return check_ip(ip, policy);
    }
    // WHATWG and inet_aton read a name ending in a number as IPv4; the url
    // crate leaves `127.1..` a name (one trailing dot is dropped, not two).
    // No top-level domain is numeric, so such a name is never legitimate.
    if ends_in_number(&bare) {
        return Err(Refusal::NumericName(name.to_owned()));
    }
    let local = LOCAL_SUFFIXES
        .iter()
        .any(|s| bare == *s || bare.ends_with(&format!(".{s}")));
    if local || !bare.contains('.') {
        return Err(Refusal::LocalName(name.to_owned()));
    }
    Ok(())
}

/// The last label is decimal digits or `0x` + hex digits (lowercase input).
fn ends_in_number(bare: &str) -> bool {
    let last = bare.rsplit('.').next().unwrap_or_default();
    match last.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
    }
}
