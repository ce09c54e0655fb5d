//! One check's outcome, its time limit, and the structured line it logs.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// How long checks may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The longest one check may take; past it the check fails.
    pub per_check: Duration,
    /// Kept back from the invocation's deadline for the status report.
    pub report_reserve: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            per_check: Duration::from_secs(20),
            report_reserve: Duration::from_secs(30),
        }
    }
}

/// One check's outcome; `reason` says why it failed (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckResult {
    pub(crate) fn failed(name: &'static str, reason: impl Into<String>) -> Self {
        let result = Self {
            name,
            ok: false,
            latency_ms: 0,
            reason: Some(reason.into()),
        };
        result.log();
        result
    }

    /// Log this result as one structured (JSON) line.
    pub fn log(&self) {
        let reason = self.reason.as_deref().unwrap_or("");
        if self.ok {
            tracing::info!(
                check = self.name,
                ok = true,
                latency_ms = self.latency_ms,
                reason,
                "post-deploy check"
            );
        } else {
            tracing::error!(
                check = self.name,
                ok = false,
                latency_ms = self.latency_ms,
                reason,
                "post-deploy check"
            );
        }
    }
}

/// Run `fut` as check `name` under `limit`; a timeout is a failure.
pub(crate) async fn timed<T>(
    name: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, String>>,
) -> (CheckResult, Option<T>) {
    let started = Instant::now();
    // No time left: don't start it (a zero timeout still races the timer's
    // 1 ms tick, and a fast loopback answer could win).
    let outcome = match limit.is_zero() {
        true => Err(()),
        false => tokio::time::timeout(limit, fut).await.map_err(|_| ()),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (ok, reason, value) = match outcome {
        Ok(Ok(value)) => (true, None, Some(value)),
        Ok(Err(reason)) => (false, Some(reason), None),
        Err(()) => (
            false,
            Some(format!("timed out after {} ms", limit.as_millis())),
            None,
        ),
    };
    let result = CheckResult {
        name,
        ok,
        latency_ms,
        reason,
    };
    result.log();
    (result, value)
}
