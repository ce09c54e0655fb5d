//! The forecaster's break-glass waiver (ADR 0003) as a deadline to watch.
//! Without the `prophet` feature, staging and production start only while
//! the waiver's expiry is ahead; once it passes, every new cold start fails
//! while warm instances keep serving. So its time left is reported by
//! `/health`, `valdrix validate-runtime-env` and the `ForecasterWaiverHoursLeft`
//! metric (cold starts and every dispatcher run), with a warning from
//! [`WARN_HOURS`] before, when the ForecasterWaiverAlarm fires too.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::config::{Forecaster, RuntimeConfig};
use crate::metrics::{self, Unit};

/// Warn (and alarm) from this many hours before the expiry.
pub const WARN_HOURS: f64 = 48.0;
/// The `Service` dimension of the waiver metric.
pub const METRICS_SERVICE: &str = "forecaster";

/// A waiver in force and its time left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiver {
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    /// Hours left, to one decimal; never negative.
    pub hours_left: f64,
    /// Less than [`WARN_HOURS`] left.
    pub expiring: bool,
}

fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The waiver `config` runs under at `now`; `None` when none is needed.
pub fn waiver(config: &RuntimeConfig, now: DateTime<Utc>) -> Option<Waiver> {
    let Forecaster::HoltWintersBreakGlass { expires_at, .. } = &config.forecaster else {
        return None;
    };
    let seconds = (*expires_at - now).num_seconds().max(0) as f64;
    let hours_left = (seconds / 360.0).floor() / 10.0;
    Some(Waiver {
        expires_at: *expires_at,
        hours_left,
        expiring: hours_left < WARN_HOURS,
    })
}

impl Waiver {
    /// `/health`'s view: `active`, or `expiring` inside the warning window.
    pub fn health(&self) -> serde_json::Value {
        json!({
            "status": if self.expiring { "expiring" } else { "active" },
            "expires_at": self.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "hours_left": self.hours_left,
        })
    }
}

/// At a cold start and on each dispatcher run: the metric, and a warning
/// line inside the window. Nothing when no waiver is needed.
pub fn watch(config: &RuntimeConfig, now: DateTime<Utc>) -> Option<Waiver> {
    let waiver = waiver(config, now)?;
    metrics::emit(
        METRICS_SERVICE,
        &[("ForecasterWaiverHoursLeft", waiver.hours_left, Unit::None)],
        metrics::props([(
            "expires_at",
            json!(
                waiver
                    .expires_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )]),
    );
    if waiver.expiring {
        tracing::warn!(
            hours_left = waiver.hours_left,
            expires_at = %waiver.expires_at,
            "forecaster waiver expires soon: renew FORECASTER_BREAK_GLASS_EXPIRES_AT (docs/deploy.md) or new cold starts will fail"
        );
    }
    Some(waiver)
}
