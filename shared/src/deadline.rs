//! How long a piece of work may still run. Lambda gives every invocation a
//! deadline (the Runtime API's `Lambda-Runtime-Deadline-Ms`; API Gateway's
//! own 30 s is shorter for HTTP); long work checks it and stops cleanly
//! before it: a resumable state, or a 503 with `Retry-After`, never the
//! platform's bare 5xx.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::process;

/// A point in time work must have stopped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
        }
    }

    /// Far enough away to never matter (a CLI command, `valdrix serve`'s
    /// background work).
    pub fn unbounded() -> Self {
        Self::after(Duration::from_secs(365 * 24 * 3600))
    }

    /// A Lambda invocation's deadline (milliseconds since the epoch, as
    /// `lambda_runtime::Context::deadline` holds it), shortened by
    /// `VALDRIX_INVOCATION_BUDGET_SECONDS` when that is set.
    pub fn invocation(epoch_ms: u64) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let left = Duration::from_millis(epoch_ms).saturating_sub(now);
        let lambda = Self::after(left);
        match process::invocation_budget() {
            Some(budget) => lambda.min(Self::after(budget)),
            None => lambda,
        }
    }

    /// The earlier of the two.
    pub fn min(self, other: Self) -> Self {
        if other.at < self.at { other } else { self }
    }

    /// `reserve` earlier: the time left to finish cleanly after stopping.
    pub fn less(self, reserve: Duration) -> Self {
        Self {
            at: self.at.checked_sub(reserve).unwrap_or(self.at),
        }
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// `work`, unless the deadline comes first: then it is dropped (cancelled
    /// at its next await) and the caller answers [`Expired`].
    pub async fn within<F: std::future::Future>(self, work: F) -> Result<F::Output, Expired> {
        tokio::time::timeout(self.remaining(), work)
            .await
            .map_err(|_| Expired)
    }
}

/// The deadline came before the work could finish or make progress; nothing
/// was left half done, so the caller may retry (HTTP: 503 with `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the invocation's time ran out before the work could finish")]
pub struct Expired;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_in_the_past_has_passed_and_nothing_remains() {
        let past = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(5))
            .as_millis() as u64;
        let d = Deadline::invocation(past);
        assert!(d.passed());
        assert_eq!(d.remaining(), Duration::ZERO);
    }

    #[test]
    fn an_invocation_deadline_is_the_time_lambda_gives() {
        let in_ten = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
            + Duration::from_secs(10))
        .as_millis() as u64;
        let left = Deadline::invocation(in_ten).remaining();
        assert!(
            left > Duration::from_secs(9) && left <= Duration::from_secs(10),
            "{left:?}"
        );
    }

    #[test]
    fn less_and_min_move_the_deadline_earlier() {
        let d = Deadline::after(Duration::from_secs(60));
        let reserved = d.less(Duration::from_secs(50));
        assert!(reserved < d);
        assert!(reserved.remaining() <= Duration::from_secs(10));
        assert_eq!(d.min(reserved), reserved);
        assert_eq!(reserved.min(d), reserved);
        assert!(!d.passed());
    }
}
