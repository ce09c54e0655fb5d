//! The one outbound HTTP client.
//!
//! rustls only, redirects never followed, env proxies ignored, connect and total
//! timeouts, response bodies read chunk by chunk up to [`MAX_RESPONSE_BYTES`].
//! Every URL goes through [`check_parsed`] first (literal IPs never reach a
//! resolver, so they are judged here), and every host name is resolved by
//! [`GuardedResolver`], whose checked answer is the address hyper connects to.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use url::Url;

use super::call_result::{CallResult, Retryability, retry_for_status};
use super::ssrf::{Lookup, Policy, Refusal, SystemLookup, check_parsed, lookup_checked};

/// Most of an answer we ever read; the rest is dropped unread.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// DNS plus TCP plus TLS.
    pub connect: Duration,
    /// The whole call, body read included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            total: Duration::from_secs(10),
        }
    }
}

/// Which integration a call is for; goes into logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Slack,
    Jira,
    Github,
    Gitlab,
    Webhook,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Jira => "jira",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Webhook => "webhook",
        }
    }
}

/// A non-redirect HTTP answer with its body capped.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than [`MAX_RESPONSE_BYTES`].
    pub truncated: bool,
    pub latency_ms: u64,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn retry_after(&self) -> Option<&str> {
        self.headers.get(RETRY_AFTER)?.to_str().ok()
    }

    pub fn success(&self, detail: impl Into<String>, external_id: Option<String>) -> CallResult {
        CallResult {
            ok: true,
            status_code: Some(self.status),
            latency_ms: self.latency_ms,
            detail: detail.into(),
            retry: Retryability::Permanent,
            external_id,
        }
    }

    /// A failure whose retryability follows the status code.
    pub fn failure(&self, detail: impl Into<String>) -> CallResult {
        let retry = retry_for_status(self.status, self.retry_after());
        self.failure_with(detail, retry)
    }

    pub fn failure_with(&self, detail: impl Into<String>, retry: Retryability) -> CallResult {
        CallResult::failed(Some(self.status), self.latency_ms, detail.into(), retry)
    }
}

/// The guarded client. Cheap to clone; make one per process and reuse it.
///
/// The reqwest client (rustls, the web PKI roots) is built at the first call,
/// not at cold start: a request that calls no vendor (most of them) never
/// loads the roots, which keeps the functions' init and peak memory down.
#[derive(Clone)]
pub struct Outbound {
    http: Arc<OnceLock<Option<reqwest::Client>>>,
    timeouts: Timeouts,
    lookup: Arc<dyn Lookup>,
    policy: Policy,
}

impl Outbound {
    pub fn new(policy: Policy, timeouts: Timeouts) -> Self {
        Self::with_lookup(policy, timeouts, Arc::new(SystemLookup))
    }

    /// Like [`Outbound::new`] with an injected resolver (tests).
    pub fn with_lookup(policy: Policy, timeouts: Timeouts, lookup: Arc<dyn Lookup>) -> Self {
        Self {
            http: Arc::default(),
            timeouts,
            lookup,
            policy,
        }
    }

    /// The reqwest client, built once; `None` if it cannot be (it has no
    /// system dependency, so in practice it always builds).
    fn http(&self) -> Option<&reqwest::Client> {
        self.http
            .get_or_init(|| {
                crate::tls::install_provider();
                reqwest::Client::builder()
                    .use_rustls_tls()
                    .https_only(!self.policy.allow_http)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .connect_timeout(self.timeouts.connect)
                    .timeout(self.timeouts.total)
                    .user_agent("valdrix")
                    .dns_resolver(Arc::new(GuardedResolver {
                        policy: self.policy,
                        lookup: self.lookup.clone(),
                    }))
                    .build()
                    .ok()
            })
            .as_ref()
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Checks `url`, sends the request `build` finishes, reads the capped answer.
    /// `Err` is a finished failed [`CallResult`]: refusal, transport error, or a 3xx
    /// (never followed, so a redirect cannot lead to a private address).
    pub async fn execute(
        &self,
        kind: Kind,
        method: Method,
        url: &Url,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Reply, CallResult> {
        let started = Instant::now();
        if let Err(refusal) = check_parsed(url, &self.policy) {
            tracing::warn!(target_kind = kind.as_str(), reason = %refusal, "outbound call refused");
            return Err(CallResult::refused(&refusal, 0));
        }
        let host = url.host_str().unwrap_or_default();
        let outcome = self.send(method, url, build).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let status = outcome.as_ref().ok().map(|(status, ..)| *status);
        tracing::info!(
            target_kind = kind.as_str(),
            host,
            status,
            latency_ms,
            "outbound call"
        );
        match outcome {
            Ok((status, headers, body, truncated)) => Ok(Reply {
                status,
                headers,
                body,
                truncated,
                latency_ms,
            }),
            Err(failure) => Err(failure.into_delivery(latency_ms)),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<(u16, HeaderMap, Vec<u8>, bool), Failure> {
        let http = self.http().ok_or(Failure::Transport(Transport::Other))?;
        let response = build(http.request(method, url.clone()))
            .send()
            .await
            .map_err(|e| Failure::Transport(transport_kind(&e)))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(Failure::Redirect(status));
        }
        let headers = response.headers().clone();
        let (body, truncated) = read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| Failure::Transport(transport_kind(&e)))?;
        Ok((status, headers, body, truncated))
    }
}

/// Reads at most `cap` bytes of the body, chunk by chunk; the bool says whether
/// more was on offer. The rest is never read (the connection is dropped).
pub async fn read_capped(
    mut response: Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let hint = response.content_length().unwrap_or(0).min(cap as u64);
    let mut body = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

enum Failure {
    Transport(Transport),
    Redirect(u16),
}

enum Transport {
    Refused(Refusal),
    TimedOut,
    Connect,
    Other,
}

impl Failure {
    /// Our own words only: reqwest's error text includes the full URL.
    fn into_delivery(self, latency_ms: u64) -> CallResult {
        let retryable = Retryability::Retryable { retry_after: None };
        let (status, detail, retry) = match self {
            Self::Redirect(code) => (
                Some(code),
                format!("answered {code}: redirect not followed"),
                Retryability::Permanent,
            ),
            Self::Transport(Transport::Refused(r)) => return CallResult::refused(&r, latency_ms),
            Self::Transport(Transport::TimedOut) => (None, "timed out".into(), retryable),
            Self::Transport(Transport::Connect) => (None, "could not connect".into(), retryable),
            Self::Transport(Transport::Other) => (None, "request failed".into(), retryable),
        };
        CallResult::failed(status, latency_ms, detail, retry)
    }
}

/// A refusal raised inside the resolver comes back wrapped in reqwest and hyper
/// errors; find it so it stays permanent instead of "connection failed".
fn transport_kind(error: &reqwest::Error) -> Transport {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Transport::Refused(refusal.clone());
        }
        source = e.source();
    }
    if error.is_timeout() {
        Transport::TimedOut
    } else if error.is_connect() {
        Transport::Connect
    } else {
        Transport::Other
    }
}

/// reqwest's resolver hook running the DNS half of the SSRF guard.
struct GuardedResolver {
    policy: Policy,
    lookup: Arc<dyn Lookup>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, lookup) = (self.policy, Arc::clone(&self.lookup));
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port on the pinned addresses.
            let addrs: Vec<SocketAddr> = lookup_checked(&*lookup, &host, 0, &policy).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
