//! The other event sources: the schedules (on one short local interval), the
//! bucket notifications (S3 events moto put on our queue), and CodeDeploy: a
//! fake of its `PutLifecycleEventHookExecutionStatus` and the post-traffic
//! hook invoked with a lifecycle event, as a deployment does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::aws::{ACCOUNT, REGION};
use super::runtime_api::Function;

/// A scheduled event, as EventBridge sends it.
pub fn scheduled_event(rule: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")],
        "detail": {},
    })
}

#[derive(Clone, Default, Serialize)]
pub struct SourceStats {
    pub invocations: u64,
    pub errors: u64,
    pub last_result: Option<Value>,
}

pub type Stats = Arc<Mutex<BTreeMap<String, SourceStats>>>;

pub(super) fn record(stats: &Stats, id: &str, result: Result<Value, Value>) {
    let mut all = stats.lock().unwrap_or_else(|p| p.into_inner());
    let s = all.entry(id.to_owned()).or_default();
    s.invocations += 1;
    match result {
        Ok(v) => s.last_result = Some(v),
        Err(e) => {
            s.errors += 1;
            s.last_result = Some(json!({ "error": e }));
        }
    }
}

/// Asynchronous invocation: Lambda retries a failed one twice.
async fn invoke_async(function: &Arc<Function>, event: Value) -> Result<Value, Value> {
    let mut last = Value::Null;
    for attempt in 0..3u64 {
        match function.invoke(event.clone()).await {
            Ok(v) => return Ok(v),
            Err(e) => last = json!(e),
        }
        tokio::time::sleep(Duration::from_secs(1 + attempt)).await;
    }
    Err(last)
}

/// Fires `rule` at each of its functions every `interval`.
pub async fn run_schedule(
    rule: String,
    functions: Vec<Arc<Function>>,
    interval: Duration,
    stats: Stats,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for f in &functions {
            let result = invoke_async(f, scheduled_event(&rule)).await;
            if let Err(e) = &result {
                eprintln!("local-stack: schedule {rule} → {}: {e}", f.spec.id);
            }
            record(&stats, &rule, result);
        }
    }
}

/// Hands each S3 event moto queued for the bucket to the function.
pub async fn run_notifications(
    id: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    function: Arc<Function>,
    stats: Stats,
) {
    loop {
        for m in super::queue::receive(&sqs, &queue_url, 10, &id).await {
            let mut event: Value =
                serde_json::from_str(m.body().unwrap_or("{}")).unwrap_or_default();
            complete_s3_records(&mut event);
            // S3's test event on configuration carries no Records: not for the function.
            if event["Records"].is_array() {
                let result = invoke_async(&function, event).await;
                if let Err(e) = &result {
                    eprintln!("local-stack: {id} → {}: {e}", function.spec.id);
                }
                record(&stats, &id, result);
            }
            if let Some(handle) = m.receipt_handle() {
                let _ = sqs
                    .delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
}

/// moto's S3 event records lack fields S3 always sends (and the function's
/// event type requires): filled in with S3's shape, local values.
fn complete_s3_records(event: &mut Value) {
    for r in event["Records"].as_array_mut().into_iter().flatten() {
        let defaults = [
            (
                "/userIdentity",
                json!({"principalId": format!("AWS:{ACCOUNT}")}),
            ),
            (
                "/requestParameters",
                json!({"sourceIPAddress": "127.0.0.1"}),
            ),
            (
                "/responseElements",
                json!({"x-amz-request-id": uuid::Uuid::new_v4().simple().to_string(), "x-amz-id-2": "local"}),
            ),
            ("/s3/bucket/ownerIdentity", json!({"principalId": ACCOUNT})),
            (
                "/s3/object/sequencer",
                json!(format!("{:016X}", chrono::Utc::now().timestamp_micros())),
            ),
        ];
        for (pointer, value) in defaults {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or_default();
            if let Some(obj) = r.pointer_mut(parent).and_then(Value::as_object_mut) {
                obj.entry(key).or_insert(value);
            }
        }
    }
}

/// What the fake CodeDeploy knows: the statuses hooks reported (by lifecycle
/// event hook execution id) and each deployment's AppSpec (by deployment id).
#[derive(Clone, Default)]
pub struct CodeDeploy(Arc<Mutex<Fake>>);

#[derive(Default)]
struct Fake {
    statuses: BTreeMap<String, Value>,
    appspecs: BTreeMap<String, String>,
}

impl CodeDeploy {
    fn fake(&self) -> std::sync::MutexGuard<'_, Fake> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status_of(&self, execution: &str) -> Option<Value> {
        self.fake().statuses.get(execution).cloned()
    }
}

fn api_error(kind: &str, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"__type": kind, "message": message})),
    )
        .into_response()
}

fn api_answer(body: Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// CodeDeploy's JSON API, the operations a hook calls: `GetDeployment` (which
/// function the deployment moves, in its AppSpec) and
/// `PutLifecycleEventHookExecutionStatus`.
pub async fn codedeploy_api(
    State(fake): State<CodeDeploy>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    if target == "CodeDeploy_20141006.GetDeployment" {
        let id = request["deploymentId"].as_str().unwrap_or_default();
        let Some(appspec) = fake.fake().appspecs.get(id).cloned() else {
            return api_error(
                "DeploymentDoesNotExistException",
                format!("no deployment {id}"),
            );
        };
        return api_answer(json!({"deploymentInfo": {
            "deploymentId": id,
            "applicationName": "local",
            "status": "InProgress",
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}},
        }}));
    }
    if target != "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus" {
        return api_error(
            "UnknownOperationException",
            format!("{target} is not faked locally"),
        );
    }
    let (Some(execution), Some(status)) = (
        request["lifecycleEventHookExecutionId"].as_str(),
        request["status"].as_str(),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"__type": "InvalidLifecycleEventHookExecutionIdException"})),
        )
            .into_response();
    };
    eprintln!(
        "local-stack: CodeDeploy: deployment {} hook execution status {status}",
        request["deploymentId"].as_str().unwrap_or("?")
    );
    fake.fake()
        .statuses
        .insert(execution.to_owned(), request.clone());
    api_answer(json!({"lifecycleEventHookExecutionId": execution}))
}

/// One simulated deployment of each `(logical id, name)` function: its
/// AppSpec registered with the fake, each hook invoked with a lifecycle
/// event, then the status it reported (none reported is a failure too).
pub async fn deploy(
    hooks: &[Arc<Function>],
    fake: &CodeDeploy,
    functions: &[(String, String)],
) -> Vec<Value> {
    let mut out = Vec::new();
    let pairs: Vec<(&(String, String), &Arc<Function>)> = functions
        .iter()
        .flat_map(|f| hooks.iter().map(move |h| (f, h)))
        .collect();
    for ((id, name), hook) in pairs {
        let deployment = format!(
            "d-LOCAL{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()
        );
        let appspec = json!({"version": 0.0, "Resources": [{ id.as_str(): {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Name": name, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"},
        }}]});
        fake.fake()
            .appspecs
            .insert(deployment.clone(), appspec.to_string());
        let execution = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            uuid::Uuid::new_v4().as_bytes(),
        );
        let event = json!({"DeploymentId": deployment, "LifecycleEventHookExecutionId": execution});
        let answer = hook.invoke(event).await;
        let status = fake.status_of(&execution);
        out.push(json!({
            "function": id,
            "hook": hook.spec.id,
            "deploymentId": deployment,
            "status": status.as_ref().and_then(|s| s["status"].as_str()).unwrap_or("NoStatusReported"),
            "invocation": match answer { Ok(v) => v, Err(e) => json!({"error": e}) },
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as moto 5 sends it (moto/s3/notifications.py).
    #[test]
    fn motos_records_become_what_the_function_reads() {
        let mut event = json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-07T13:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "tenants/demo/x.csv", "size": 3, "eTag": "e"}}}]});
        complete_s3_records(&mut event);
        let parsed: aws_lambda_events::event::s3::S3Event =
            serde_json::from_value(event.clone()).unwrap();
        assert_eq!(
            parsed.records[0].s3.object.key.as_deref(),
            Some("tenants/demo/x.csv")
        );
        // What moto did send is kept.
        assert_eq!(event["Records"][0]["s3"]["object"]["eTag"], "e");
    }
}
