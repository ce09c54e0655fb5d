//! The table's stream → function, as Lambda's DynamoDB event source mapping
//! runs it: DynamoDB Local's stream API (`DescribeStream`, `GetShardIterator`,
//! `GetRecords`, signed SigV4 requests), records filtered by `FilterCriteria`,
//! handed over in batches of at most `BatchSize` in shard order; a failed batch
//! is retried `MaximumRetryAttempts` times (-1: until it succeeds) while the
//! shard waits, then skipped (to `DestinationConfig.OnFailure` when set).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use super::aws::{ACCESS_KEY, REGION, SECRET_KEY};
use super::filter::Filters;
use super::runtime_api::Function;

const POLL: Duration = Duration::from_millis(250);
/// Properties of the mapping that change what Lambda does and are not emulated.
const UNSUPPORTED: [&str; 4] = [
    "FunctionResponseTypes",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "MaximumBatchingWindowInSeconds",
];

/// DynamoDB Streams over plain HTTP (the SDK crate for it is not in the tree).
pub struct StreamsApi {
    http: reqwest::Client,
    endpoint: String,
}

impl StreamsApi {
    pub fn new(endpoint: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: endpoint.trim_end_matches('/').to_owned() + "/",
        }
    }

    async fn call(&self, operation: &str, body: Value) -> Result<Value, String> {
        let body = body.to_string().into_bytes();
        let target = format!("DynamoDBStreams_20120810.{operation}");
        let mut request = http::Request::builder()
            .method("POST")
            .uri(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", &target)
            .body(body.clone())
            .map_err(|e| e.to_string())?;
        sign(&mut request, &body)?;
        let request = reqwest::Request::try_from(request).map_err(|e| e.to_string())?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| format!("{operation}: {e}"))?;
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .map_err(|e| format!("{operation}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{operation}: {status} {}", value["__type"]));
        }
        Ok(value)
    }
}

fn sign(request: &mut http::Request<Vec<u8>>, body: &[u8]) -> Result<(), String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let identity =
        aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "local").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("dynamodb")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// What the mapping did, for `GET /_local/event-sources`.
#[derive(Clone, Default, Serialize)]
pub struct MappingStats {
    pub records_read: u64,
    pub records_matched: u64,
    pub batches: u64,
    pub failed_attempts: u64,
    pub batches_skipped: u64,
    /// Failed batches split in halves (`BisectBatchOnFunctionError`).
    pub bisections: u64,
    /// The function's answers to the last batches (newest last).
    pub last_results: Vec<Value>,
}

pub struct Mapping {
    pub id: String,
    pub function: Arc<Function>,
    pub stream_arn: String,
    batch_size: usize,
    max_retries: i64,
    bisect: bool,
    /// `MaximumRecordAgeInSeconds`: a batch holding an older record is not
    /// tried again but handed to the OnFailure destination (-1: no limit).
    max_age: Option<Duration>,
    starting_position: String,
    filters: Filters,
    /// `(sqs client, queue url)` of `DestinationConfig.OnFailure`.
    on_failure: Option<(aws_sdk_sqs::Client, String)>,
    pub stats: Mutex<MappingStats>,
}

impl Mapping {
    /// From the mapping's resolved properties; `queue_url` maps a destination ARN to its queue.
    pub fn new(
        id: &str,
        function: Arc<Function>,
        props: &Value,
        sqs: &aws_sdk_sqs::Client,
        queue_url: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        if let Some(key) = UNSUPPORTED.iter().find(|k| !props[**k].is_null()) {
            return Err(format!("{id}: {key} is not emulated by the local stack"));
        }
        let on_failure = match props["DestinationConfig"]["OnFailure"]["Destination"].as_str() {
            None => None,
            Some(arn) => Some((
                sqs.clone(),
                queue_url(arn)
                    .ok_or_else(|| format!("{id}: OnFailure {arn} is not a queue of this stack"))?,
            )),
        };
        Ok(Self {
            id: id.to_owned(),
            function,
            stream_arn: props["EventSourceArn"]
                .as_str()
                .ok_or_else(|| format!("{id}: no EventSourceArn"))?
                .to_owned(),
            batch_size: props["BatchSize"].as_u64().unwrap_or(100) as usize,
            max_retries: props["MaximumRetryAttempts"].as_i64().unwrap_or(-1),
            bisect: props["BisectBatchOnFunctionError"]
                .as_bool()
                .unwrap_or(false),
            max_age: props["MaximumRecordAgeInSeconds"]
                .as_i64()
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs),
            starting_position: props["StartingPosition"]
                .as_str()
                .unwrap_or("LATEST")
                .to_owned(),
            filters: Filters::parse(&props["FilterCriteria"])?,
            on_failure,
            stats: Mutex::new(MappingStats::default()),
        })
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, MappingStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Iterators of the shards open now, at the starting position.
    pub async fn open(&self, api: &StreamsApi) -> Result<Shards, String> {
        let mut shards = Shards::default();
        for shard in self.describe(api).await? {
            let id = shard["ShardId"].as_str().unwrap_or_default().to_owned();
            shards.seen.insert(id.clone());
            if shard["SequenceNumberRange"]["EndingSequenceNumber"].is_null() {
                let it = self.iterator(api, &id, &self.starting_position).await?;
                shards.open.push((id, it));
            }
        }
        Ok(shards)
    }

    async fn describe(&self, api: &StreamsApi) -> Result<Vec<Value>, String> {
        let out = api
            .call("DescribeStream", json!({"StreamArn": self.stream_arn}))
            .await?;
        Ok(out["StreamDescription"]["Shards"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    async fn iterator(&self, api: &StreamsApi, shard: &str, kind: &str) -> Result<String, String> {
        let out = api
            .call(
                "GetShardIterator",
                json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind}),
            )
            .await?;
        out["ShardIterator"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no iterator for shard {shard}"))
    }

    /// Polls until the process ends.
    pub async fn run(self: Arc<Self>, api: StreamsApi, mut shards: Shards) {
        loop {
            if let Err(e) = self.poll_once(&api, &mut shards).await {
                eprintln!("local-stack: {}: {e}", self.id);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn poll_once(&self, api: &StreamsApi, shards: &mut Shards) -> Result<(), String> {
        let mut still_open = Vec::new();
        for (shard, iterator) in std::mem::take(&mut shards.open) {
            let out = api
                .call(
                    "GetRecords",
                    json!({"ShardIterator": iterator, "Limit": 1000}),
                )
                .await?;
            let records = out["Records"].as_array().cloned().unwrap_or_default();
            self.deliver(records).await;
            if let Some(next) = out["NextShardIterator"].as_str() {
                still_open.push((shard, next.to_owned()));
            }
        }
        shards.open = still_open;
        // Shards split and close: their children start from their beginning.
        for shard in self.describe(api).await? {
            let id = shard["ShardId"].as_str().unwrap_or_default().to_owned();
            if shards.seen.insert(id.clone()) {
                let it = self.iterator(api, &id, "TRIM_HORIZON").await?;
                shards.open.push((id, it));
            }
        }
        Ok(())
    }

    /// Filters, batches and hands the records of one read to the function.
    async fn deliver(&self, records: Vec<Value>) {
        let read = records.len() as u64;
        let matched: Vec<Value> = records
            .into_iter()
            .map(|mut r| {
                r["eventSourceARN"] = self.stream_arn.clone().into();
                // DynamoDB Local says "ddblocal"; Lambda's event carries the region.
                r["awsRegion"] = REGION.into();
                r
            })
            .filter(|r| self.filters.matches(r))
            .collect();
        {
            let mut s = self.stats();
            s.records_read += read;
            s.records_matched += matched.len() as u64;
        }
        for batch in matched.chunks(self.batch_size.max(1)) {
            self.invoke_batch(batch).await;
        }
    }

    /// One batch, retried; with `BisectBatchOnFunctionError` a failed batch of
    /// two or more records is split in halves, each handed over (and retried)
    /// on its own, in order: splitting spends none of the retry budget.
    fn invoke_batch<'a>(
        &'a self,
        batch: &'a [Value],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(self.invoke_batch_once(batch))
    }

    async fn invoke_batch_once(&self, batch: &[Value]) {
        let event = json!({ "Records": batch });
        let mut attempt: i64 = 0;
        loop {
            if self.too_old(batch) {
                self.skip(batch, attempt, "RecordAgeExceeded").await;
                return;
            }
            self.stats().batches += 1;
            match self.function.invoke(event.clone()).await {
                Ok(answer) => {
                    self.remember(answer);
                    return;
                }
                Err(e) => {
                    self.stats().failed_attempts += 1;
                    eprintln!(
                        "local-stack: {}: batch of {} failed ({}: {}), attempt {}",
                        self.id,
                        batch.len(),
                        e.error_type,
                        e.message,
                        attempt + 1
                    );
                    self.remember(json!({ "error": e }));
                    if self.bisect && batch.len() > 1 {
                        self.stats().bisections += 1;
                        let (first, second) = batch.split_at(batch.len() / 2);
                        self.invoke_batch(first).await;
                        self.invoke_batch(second).await;
                        return;
                    }
                    if self.max_retries >= 0 && attempt >= self.max_retries {
                        self.skip(batch, attempt + 1, &e.error_type).await;
                        return;
                    }
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 * attempt.min(8) as u64)).await;
                }
            }
        }
    }

    /// A record of the batch is older than `MaximumRecordAgeInSeconds`
    /// (its stream record's `ApproximateCreationDateTime`, epoch seconds).
    fn too_old(&self, batch: &[Value]) -> bool {
        let Some(max_age) = self.max_age else {
            return false;
        };
        let now = chrono::Utc::now().timestamp() as f64;
        batch.iter().any(|r| {
            r["dynamodb"]["ApproximateCreationDateTime"]
                .as_f64()
                .is_some_and(|created| now - created > max_age.as_secs_f64())
        })
    }

    fn remember(&self, answer: Value) {
        let mut s = self.stats();
        s.last_results.push(answer);
        let excess = s.last_results.len().saturating_sub(20);
        s.last_results.drain(..excess);
    }

    /// Retries exhausted: the batch is dropped, described to the OnFailure queue.
    async fn skip(&self, batch: &[Value], attempts: i64, error_type: &str) {
        let condition = if error_type == "RecordAgeExceeded" {
            "RecordAgeExceeded"
        } else {
            "RetryAttemptsExhausted"
        };
        self.stats().batches_skipped += 1;
        let Some((sqs, url)) = &self.on_failure else {
            return;
        };
        let seq = |r: &Value| r["dynamodb"]["SequenceNumber"].clone();
        let record = json!({
            "requestContext": {"condition": condition, "approximateInvokeCount": attempts},
            "responseContext": {"functionError": error_type},
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "DDBStreamBatchInfo": {
                "streamArn": self.stream_arn,
                "batchSize": batch.len(),
                "startSequenceNumber": batch.first().map(seq),
                "endSequenceNumber": batch.last().map(seq),
            },
        });
        if let Err(e) = sqs
            .send_message()
            .queue_url(url)
            .message_body(record.to_string())
            .send()
            .await
        {
            eprintln!("local-stack: {}: OnFailure send failed: {e}", self.id);
        }
    }
}

/// The shards being read: `(shard id, iterator)`, and every shard id seen.
#[derive(Default)]
pub struct Shards {
    open: Vec<(String, String)>,
    seen: std::collections::HashSet<String>,
}

/// `HashMap` of mapping id → stats, for the control API.
pub fn stats_of(mappings: &[Arc<Mapping>]) -> HashMap<String, MappingStats> {
    mappings
        .iter()
        .map(|m| (m.id.clone(), m.stats().clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_stack::runtime_api::tests::{function, runtime};

    fn sqs() -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_sqs::config::Region::new(REGION))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    fn record(event: &str, sk: &str) -> Value {
        json!({"eventName": event, "dynamodb": {"NewImage": {"sk": {"S": sk}}, "SequenceNumber": "1"}})
    }

    /// The template's mapping with `answer` as the function's reply to each batch.
    fn mapping(dir: &std::path::Path, answer: &str) -> Mapping {
        mapping_with(dir, answer, false)
    }

    fn mapping_with(dir: &std::path::Path, answer: &str, bisect: bool) -> Mapping {
        let body = format!(
            r#"N=$(printf '%s' "$EVENT" | grep -o '"eventName"' | wc -l | tr -d ' ')
  {answer}"#
        );
        let f = function(runtime(dir, "", &body), Duration::from_secs(10));
        let props = json!({
            "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1",
            "BatchSize": 2,
            "MaximumRetryAttempts": 1,
            "BisectBatchOnFunctionError": bisect,
            "StartingPosition": "LATEST",
            "FilterCriteria": {"Filters": [{"Pattern":
                r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "DELIVERY#"}]}}}}"#}]},
        });
        Mapping::new("Mapping", f, &props, &sqs(), |_| None).unwrap()
    }

    fn records() -> Vec<Value> {
        vec![
            record("INSERT", "DELIVERY#slack"),
            record("MODIFY", "DELIVERY#slack"),
            record("INSERT", "EVENT"),
            record("INSERT", "DELIVERY#jira"),
            record("INSERT", "DELIVERY#webhook"),
        ]
    }

    const RESPOND: &str = r#"curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/response" -d "{\"records\":$N}" >/dev/null"#;
    const FAIL: &str = r#"curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/error" -d '{"errorType":"DispatchError","errorMessage":"503"}' >/dev/null"#;

    #[tokio::test]
    async fn matching_records_go_in_batches_of_the_batch_size() {
        let dir = tempfile::tempdir().unwrap();
        let m = mapping(dir.path(), RESPOND);
        m.deliver(records()).await;
        let s = m.stats().clone();
        assert_eq!((s.records_read, s.records_matched, s.batches), (5, 3, 2));
        assert_eq!(
            s.last_results,
            [json!({"records": 2}), json!({"records": 1})]
        );
        m.function.stop_environment();
    }

    #[tokio::test]
    async fn a_failing_batch_is_retried_then_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let m = mapping(dir.path(), FAIL);
        m.deliver(records()).await;
        let s = m.stats().clone();
        // Each of the two batches: the attempt and MaximumRetryAttempts (1) retry.
        assert_eq!((s.batches, s.failed_attempts, s.batches_skipped), (4, 4, 2));
        m.function.stop_environment();
    }

    #[tokio::test]
    async fn a_failing_batch_is_bisected_before_its_halves_are_retried() {
        let dir = tempfile::tempdir().unwrap();
        let m = mapping_with(dir.path(), FAIL, true);
        m.deliver(records()).await;
        let s = m.stats().clone();
        // [slack, jira] fails once and splits; each half, and the lone
        // [webhook], is tried and retried once (MaximumRetryAttempts 1).
        assert_eq!(
            (
                s.batches,
                s.failed_attempts,
                s.bisections,
                s.batches_skipped
            ),
            (7, 7, 1, 3)
        );
        m.function.stop_environment();
    }

    #[tokio::test]
    async fn a_batch_older_than_the_maximum_record_age_is_not_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = mapping(dir.path(), RESPOND);
        m.max_age = Some(Duration::from_secs(60));
        let mut old = record("INSERT", "DELIVERY#slack");
        old["dynamodb"]["ApproximateCreationDateTime"] =
            json!(chrono::Utc::now().timestamp() - 3600);
        m.deliver(vec![old, record("INSERT", "DELIVERY#jira")])
            .await;
        let s = m.stats().clone();
        assert_eq!((s.batches, s.batches_skipped), (0, 1));
        m.function.stop_environment();
    }
}
