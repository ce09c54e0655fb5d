//! The checks of an event function: its new version (the `live` alias)
//! invoked with an event of the shape its trigger sends, on a path that
//! changes nothing: the dispatcher's sweep (what its schedule runs every
//! minute), the daily run for the smoke tenant alone, an S3 notification
//! for a tenant that does not exist (skipped after a store read), and an
//! export job that does not exist (done after a store read).

use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};
use valdrix_shared::tenancy::SMOKE_TENANT_ID;

use crate::probes::Phase;
use crate::target::Target;

pub const CHECK_SWEEP: &str = "dispatcher-sweep";
pub const CHECK_DAILY: &str = "evidence-daily-run";
pub const CHECK_INGEST: &str = "cost-ingest-event";
pub const CHECK_EXPORT_JOB: &str = "pack-worker-job";
/// The alias every deployment moves.
pub const ALIAS: &str = "live";
/// A tenant id no tenant has (ids are at least two characters, lower case).
pub const ABSENT_TENANT: &str = "valdrix-hook-probe";
/// evidence-daily's source for a one-tenant run (its crate's HOOK_SOURCE).
const HOOK_SOURCE: &str = "valdrix.post-deploy-hook";

type Verify = fn(Phase, &Value) -> Result<(), String>;

pub struct EventCheck {
    pub name: &'static str,
    pub payload: Value,
    verify: Verify,
}

/// The check of an event function; `None` for the API functions.
pub fn event_check(target: Target) -> Option<EventCheck> {
    let (name, payload, verify): (_, _, Verify) = match target {
        Target::NotificationDispatcher => (
            CHECK_SWEEP,
            // Every field EventBridge sends, as events/schedule-dispatcher-sweep.json has them.
            json!({
                "version": "0", "id": "post-deploy-hook", "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "000000000000",
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "region": "us-east-1", "resources": [], "detail": {},
            }),
            swept,
        ),
        Target::EvidenceDaily => (
            CHECK_DAILY,
            json!({"source": HOOK_SOURCE, "detail": {"tenant_id": SMOKE_TENANT_ID}}),
            one_tenant_run,
        ),
        Target::CostIngest => (
            CHECK_INGEST,
            // Every field S3 sends, as events/s3-cost-ingest.json has them.
            json!({"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "valdrix-post-deploy-hook"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "hook-probe", "x-amz-id-2": "hook-probe"},
                "s3": {
                    "s3SchemaVersion": "1.0", "configurationId": "post-deploy-hook",
                    "bucket": {"name": "valdrix-hook-probe", "ownerIdentity": {"principalId": "hook"},
                               "arn": "arn:aws:s3:::valdrix-hook-probe"},
                    "object": {"key": format!("tenants/{ABSENT_TENANT}/probe.csv"), "size": 0,
                               "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0"},
                },
            }]}),
            skipped_unknown_tenant,
        ),
        Target::CompliancePackWorker => (
            CHECK_EXPORT_JOB,
            // What compliance-export sends (exports::queue::JOB_EVENT), for a
            // job no tenant has.
            json!({"valdrix_export_job": {
                "tenant_id": ABSENT_TENANT,
                "job_id": "00000000-0000-4000-8000-000000000000",
            }}),
            absent_job_done,
        ),
        _ => return None,
    };
    Some(EventCheck {
        name,
        payload,
        verify,
    })
}

/// Invoke `function`'s live alias with the check's event and verify the answer.
pub async fn run(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    check: &EventCheck,
    phase: Phase,
) -> Result<(), String> {
    let out = lambda
        .invoke()
        .function_name(function)
        .qualifier(ALIAS)
        .payload(Blob::new(check.payload.to_string()))
        .send()
        .await
        .map_err(|e| {
            format!(
                "invoke {function}:{ALIAS} failed: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
                    .to_string()
                    .chars()
                    .take(300)
                    .collect::<String>()
            )
        })?;
    let body: Value = out
        .payload()
        .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
        .unwrap_or(Value::Null);
    if let Some(kind) = out.function_error() {
        let message = body["errorMessage"].as_str().unwrap_or("");
        return Err(format!(
            "{function}:{ALIAS} failed ({kind}): {}",
            message.chars().take(300).collect::<String>()
        ));
    }
    (check.verify)(phase, &body).map_err(|why| format!("{function}:{ALIAS}: {why}"))
}

fn swept(_: Phase, body: &Value) -> Result<(), String> {
    match body["processed"].as_u64() {
        Some(_) => Ok(()),
        None => Err(format!("the sweep answered {body} without `processed`")),
    }
}

/// Before `valdrix migrate` the smoke tenant is missing: a run that reports
/// it failed is still the whole path (directory read, report).
fn one_tenant_run(phase: Phase, body: &Value) -> Result<(), String> {
    if body["tenants"] != 1 {
        return Err(format!("the run answered {body}, expected one tenant"));
    }
    match (phase, body["tenants_failed"].as_array().map(Vec::len)) {
        (Phase::FirstCreate, Some(_)) | (Phase::Deploy, Some(0)) => Ok(()),
        _ => Err(format!("the smoke tenant's run failed: {body}")),
    }
}

fn skipped_unknown_tenant(_: Phase, body: &Value) -> Result<(), String> {
    let object = &body["objects"][0];
    let reason = object["reason"].as_str().unwrap_or("");
    match object["status"].as_str() {
        Some("skipped") if reason.contains("does not exist") => Ok(()),
        _ => Err(format!(
            "expected the probe object skipped for an unknown tenant, got {body}"
        )),
    }
}

fn absent_job_done(_: Phase, body: &Value) -> Result<(), String> {
    match body["step"].as_str() {
        Some("Done") => Ok(()),
        _ => Err(format!("expected the absent job done, got {body}")),
    }
}
