//! The DNS half of the guard: resolve, then refuse if any answer is non-public.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use url::{Host, Url};

use super::{Policy, Refusal, check_name, check_parsed, is_public_ip};

/// Resolves a host name. The system resolver in production; tests inject answers.
#[async_trait]
pub trait Lookup: Send + Sync {
    async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// `tokio::net::lookup_host`, i.e. the OS resolver (A and AAAA).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

#[async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// A lookup that hangs must not hold a delivery past its budget.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// Static checks, then resolution with the system resolver; the answer is the
/// list of addresses that may be connected to.
pub async fn resolve_checked(url: &Url, policy: &Policy) -> Result<Vec<SocketAddr>, Refusal> {
    resolve_checked_with(url, policy, &SystemLookup).await
}

/// [`resolve_checked`] with an injected resolver.
pub async fn resolve_checked_with(
    url: &Url,
    policy: &Policy,
    lookup: &dyn Lookup,
) -> Result<Vec<SocketAddr>, Refusal> {
    check_parsed(url, policy)?;
    let port = url.port_or_known_default().ok_or(Refusal::Malformed)?;
    match url.host() {
        None => Err(Refusal::NoHost),
        Some(Host::Ipv4(ip)) => Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Ipv6(ip)) => Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Domain(name)) => lookup_checked(lookup, name, port, policy).await,
    }
}

/// Resolves `host` and refuses the whole name when ANY answer is non-public:
/// picking only the good answers would let a rebinding name win half the time.
pub(crate) async fn lookup_checked(
    lookup: &dyn Lookup,
    host: &str,
    port: u16,
    policy: &Policy,
) -> Result<Vec<SocketAddr>, Refusal> {
    check_name(host, policy)?;
    let unresolvable = || Refusal::Unresolvable(host.to_owned());
    let addrs = tokio::time::timeout(DNS_TIMEOUT, lookup.lookup(host, port))
        .await
        .map_err(|_| unresolvable())?
        .map_err(|_| unresolvable())?;
    if addrs.is_empty() {
        return Err(unresolvable());
    }
    let bad = addrs.iter().find(|a| !is_public_ip(a.ip()));
    if let (false, Some(bad)) = (policy.allow_private, bad) {
        return Err(Refusal::ResolvesNonPublic {
            host: host.to_owned(),
            addr: bad.ip(),
        });
    }
    Ok(addrs)
}
