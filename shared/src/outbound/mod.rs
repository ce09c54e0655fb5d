//! Every call Valdrix makes to a third party: Slack, Jira, GitHub, GitLab and
//! tenant webhooks (ARCHITECTURE.md §8).
//!
//! - [`ssrf`]: the guard that refuses non-public targets, statically and after DNS;
//! - [`client`]: the one HTTP client (rustls, no redirects, no env proxy, timeouts,
//!   capped body reads, DNS answers checked and pinned);
//! - [`webhook_sig`]: Standard Webhooks signing for generic webhooks;
//! - [`vendor`]: one plain async fn per vendor API call, all returning a [`CallResult`].

pub mod call_result;
pub mod client;
pub mod ssrf;
pub mod vendor;
pub mod webhook_sig;

pub use call_result::{CallResult, Retryability};
pub use client::{Kind, MAX_RESPONSE_BYTES, Outbound, Reply, Timeouts};
pub use ssrf::{Policy, Refusal};
