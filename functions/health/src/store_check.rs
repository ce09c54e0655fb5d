//! The store check behind `GET /health`, cached for [`TTL`]: the endpoint is
//! public, so a flood of calls must not become a flood of DynamoDB reads.
//! One check runs at a time; callers that arrive meanwhile wait for it and
//! share its answer. A failure is cached too: an outage answers 503 at once
//! without queueing more reads on a store that is not answering.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use valdrix_shared::store::Store;

/// How long one store check answers for (docs/deploy.md, "Health").
pub const TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Checked {
    pub up: bool,
    /// How long the store took to answer.
    pub latency_ms: u64,
    at: Instant,
}

impl Checked {
    /// How old this answer is.
    pub fn age_ms(&self) -> u64 {
        u64::try_from(self.at.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

pub struct StoreCheck {
    ttl: Duration,
    last: Mutex<Option<Checked>>,
}

impl StoreCheck {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: Mutex::new(None),
        }
    }

    /// The last answer while it is fresh, else a new check.
    pub async fn run(&self, store: &dyn Store) -> Checked {
        let mut last = self.last.lock().await;
        if let Some(checked) = *last
            && checked.at.elapsed() < self.ttl
        {
            return checked;
        }
        let started = Instant::now();
        let up = match store.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "health: store check failed");
                false
            }
        };
        let checked = Checked {
            up,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            at: Instant::now(),
        };
        *last = Some(checked);
        checked
    }
}
