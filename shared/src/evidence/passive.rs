//! The daily passive run of one tenant: check each configured channel
//! without sending anything visible (Slack `auth.test`, Jira `myself`,
//! workflow targets: configuration and SSRF only) and record it as evidence
//! by `system`. The daily run is one such unit per tenant (evidence-daily
//! queues them), so one tenant's failure or slowness holds up no other.

use serde::Serialize;

use super::{CheckRecord, CheckStatus, Checker, Probe, Recorder};
use crate::audit::{Actor, AuditLog};
use crate::notify::Channel;
use crate::state::Notifying;
use crate::tenancy;

#[derive(Debug, Default, Serialize)]
pub struct PassiveReport {
    pub tenants: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub checks_skipped: u64,
    pub tenants_failed: Vec<String>,
}

/// One tenant's passive run: a unit of the daily run, and the post-deploy
/// hook's check of its event path (the smoke tenant).
pub async fn run_one(state: &Notifying, tenant_id: &str) -> PassiveReport {
    let mut report = PassiveReport {
        tenants: 1,
        ..PassiveReport::default()
    };
    match run_tenant(state, tenant_id).await {
        Ok(records) => tally(&mut report, &records),
        Err(why) => {
            tracing::error!(tenant_id, error = %why, "passive run failed for a tenant");
            report.tenants_failed.push(tenant_id.to_owned());
        }
    }
    report
}

fn tally(report: &mut PassiveReport, records: &[CheckRecord]) {
    for r in records {
        match r.status {
            CheckStatus::Passed => report.checks_passed += 1,
            CheckStatus::Failed => report.checks_failed += 1,
            CheckStatus::Skipped => report.checks_skipped += 1,
        }
    }
}

async fn run_tenant(state: &Notifying, tenant_id: &str) -> Result<Vec<CheckRecord>, String> {
    let tenant = tenancy::get_tenant(state.core.store.as_ref(), tenant_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("tenant vanished")?;
    let (settings, _) = crate::settings::load(state.core.store.as_ref(), tenant_id)
        .await
        .map_err(|e| e.to_string())?;
    let checker = Checker {
        config: &state.core.config,
        keys: &state.keys,
        integrations: &state.integrations,
    };
    let mut records = Vec::new();
    let mut secrets = Vec::new();
    for channel in Channel::ALL {
        let done = checker
            .check(tenant_id, tenant.tier, &settings, channel, Probe::Passive)
            .await;
        secrets.extend(done.secrets().into_iter().map(str::to_owned));
        records.push(done.record(channel, Probe::Passive, tenant.tier));
    }
    let run_id = uuid::Uuid::new_v4().to_string();
    let audit = AuditLog::new(
        state.core.store.clone(),
        state.core.audit.redactor().with(&secrets),
    );
    let recorder = Recorder {
        audit: &audit,
        tenant_id,
        run_id: &run_id,
        actor: Actor::System,
        request_id: None,
        mode: "passive",
    };
    recorder
        .run(&records, &["slack", "jira", "workflow"])
        .await
        .map_err(|e| e.to_string())?;
    Ok(records)
}
