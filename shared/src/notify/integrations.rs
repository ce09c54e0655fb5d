//! The outbound client and the vendor API endpoints every integration call
//! uses, built once per cold start.

use crate::config::RuntimeConfig;
use crate::outbound::vendor::Endpoints;
use crate::outbound::{Outbound, Policy, Timeouts};

#[derive(Clone)]
pub struct Integrations {
    pub client: Outbound,
    pub endpoints: Endpoints,
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("policy", &self.client.policy())
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl Integrations {
    /// The vendors' endpoints (or the contract's development overrides,
    /// `VALDRIX_SLACK_API_URL` / `VALDRIX_GITHUB_API_URL`) and default
    /// timeouts; the SSRF policy from the contract ([`Policy::from_config`]).
    pub fn from_config(config: &RuntimeConfig) -> Self {
        let mut endpoints = Endpoints::default();
        if let Some(url) = &config.slack_api_url {
            endpoints.slack_api = url.clone();
        }
        if let Some(url) = &config.github_api_url {
            endpoints.github_api = url.clone();
        }
        Self::with(config, endpoints, Timeouts::default())
    }

    /// Other endpoints (local fake receivers) or timeouts. The SSRF policy still
    /// comes only from the contract: reaching a loopback fake needs
    /// `VALDRIX_ALLOW_PRIVATE_OUTBOUND`, which staging and production refuse.
    pub fn with(config: &RuntimeConfig, endpoints: Endpoints, timeouts: Timeouts) -> Self {
        let client = Outbound::new(Policy::from_config(config), timeouts);
        Self { client, endpoints }
    }
}
