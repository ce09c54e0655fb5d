//! Every call Valdrix makes to a third party: Slack, Jira, GitHub, GitLab and
//! tenant webhooks (ARCHITECTURE.md §8).
//!
//! - [`ssrf`]: the guard that refuses non-public targets, statically and after DNS;
//! - [`client`]: the one HTTP client (rustls, no redirects, no env proxy, timeouts,
//!   capped body reads, DNS answers checked and pinned);
//! - [`webhook_sig`]: Standard Webhooks signing for generic webhooks;
//! - [`vendor`]: one plain async fn per vendor API call, all returning a [`CallResult`].

#[cfg(feature = "outbound")]
pub mod call_result;
#[cfg(feature = "outbound")]
pub mod client;
pub mod ssrf;
#[cfg(feature = "outbound")]
pub mod vendor;
pub mod webhook_sig;

#[cfg(feature = "outbound")]
pub use call_result::{CallResult, Retryability};
#[cfg(feature = "outbound")]
pub use client::{Kind, MAX_RESPONSE_BYTES, Outbound, Reply, Timeouts};
pub use ssrf::{Policy, Refusal};
