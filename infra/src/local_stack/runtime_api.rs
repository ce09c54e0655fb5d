//! A function as Lambda runs it: one execution environment (a process of its
//! binary) started on the first invocation, fed through the Lambda Runtime API
//! (`/runtime/invocation/next`, `/response`, `/error`, `/runtime/init/error`)
//! on its own loopback port, with the invocation deadline from the function's
//! `Timeout`. A timed-out or exited environment is dropped; the next invocation
//! starts a new one (a cold start). Invocations queue for the one environment.
//!
//! Why not cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`):
//! it hands out `Lambda-Runtime-Deadline-Ms: 600000` (1970, so the post-deploy
//! hook's budget is always spent), answers `/runtime/init/error` to whichever
//! function's invocation is queued (with 200) or drops it, and knows no timeout.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, oneshot};

/// How a function is started.
pub struct Spec {
    /// The logical id, for log lines.
    pub id: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    pub arn: String,
    pub binary: PathBuf,
    /// Everything but `AWS_LAMBDA_RUNTIME_API`.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// A failed invocation, as Lambda's Invoke API reports it (`X-Amz-Function-Error`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionError {
    #[serde(rename = "errorType")]
    pub error_type: String,
    #[serde(rename = "errorMessage")]
    pub message: String,
}

impl FunctionError {
    fn new(error_type: &str, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    fn from_body(header: Option<&str>, body: &[u8]) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        let error_type = v["errorType"]
            .as_str()
            .or(header)
            .unwrap_or("Unhandled")
            .to_owned();
        let message = v["errorMessage"].as_str().unwrap_or_default().to_owned();
        Self {
            error_type,
            message,
        }
    }
}

pub type Outcome = Result<Value, FunctionError>;

struct Pending {
    request_id: String,
    payload: Value,
    answer: oneshot::Sender<Outcome>,
}

/// What the local stack tells about a function (`GET /_local/functions`).
#[derive(Clone, Default, Serialize)]
pub struct Stats {
    pub cold_starts: u64,
    pub invocations: u64,
    pub errors: u64,
    /// Spawn → first `/next` of the last cold start (Lambda's Init Duration).
    pub last_init_ms: Option<f64>,
    /// What the last failed init reported on `/runtime/init/error`.
    pub last_init_error: Option<FunctionError>,
    /// The running environment's process (its peak RSS is in /proc).
    pub pid: Option<u32>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Pending>,
    /// Handed out, waiting for `/response` or `/error`, by request id, with
    /// the generation of the environment that took it.
    in_flight: HashMap<String, (u64, Pending)>,
    /// The running environment's generation; `None` when there is none.
    running: Option<u64>,
    generation: u64,
    spawned_at: Option<Instant>,
    init_error: Option<FunctionError>,
    stats: Stats,
}

pub struct Function {
    pub spec: Spec,
    inner: Mutex<Inner>,
    ready: Notify,
    /// Stops the running environment (its process and its Runtime API).
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Function {
    pub fn new(spec: Spec) -> Arc<Self> {
        Arc::new(Self {
            spec,
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            stop: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// One invocation, as Lambda's synchronous Invoke: the function's answer,
    /// or its error (a handler error, an init error, an exit, a timeout).
    pub async fn invoke(self: &Arc<Self>, payload: Value) -> Outcome {
        let (tx, rx) = oneshot::channel();
        let request_id = uuid::Uuid::new_v4().to_string();
        {
            let mut inner = self.lock();
            inner.stats.invocations += 1;
            inner.queue.push_back(Pending {
                request_id: request_id.clone(),
                payload,
                answer: tx,
            });
        }
        self.clone().ensure_environment().await;
        self.ready.notify_waiters();
        let outcome = match tokio::time::timeout(self.spec.timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(FunctionError::new("Runtime.Unknown", "no answer")),
            Err(_) => {
                // Lambda ends the environment of a timed-out invocation.
                self.lock().in_flight.remove(&request_id);
                self.stop_environment();
                Err(FunctionError::new(
                    "Sandbox.Timedout",
                    format!(
                        "Task timed out after {:.2} seconds",
                        self.spec.timeout.as_secs_f64()
                    ),
                ))
            }
        };
        if outcome.is_err() {
            self.lock().stats.errors += 1;
        }
        outcome
    }

    /// Stops the warm environment, if any: the next invocation is a cold start
    /// (at once: the stopped one hands out nothing more).
    pub fn stop_environment(&self) {
        let stopped = {
            let mut inner = self.lock();
            inner.stats.pid = None;
            inner.running.take()
        };
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
        if let Some(generation) = stopped {
            self.fail_in_flight(
                generation,
                &FunctionError::new(
                    "Runtime.ExitError",
                    "RequestId: - Error: Runtime exited (stopped)",
                ),
            );
        }
    }

    /// Fails what the environment `generation` had taken.
    fn fail_in_flight(&self, generation: u64, error: &FunctionError) {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .in_flight
            .iter()
            .filter(|(_, (g, _))| *g == generation)
            .map(|(id, _)| id.clone())
            .collect();
        let dead: Vec<Pending> = ids
            .iter()
            .filter_map(|id| inner.in_flight.remove(id))
            .map(|(_, p)| p)
            .collect();
        drop(inner);
        for p in dead {
            let _ = p.answer.send(Err(error.clone()));
        }
    }

    /// Fails every queued and handed-out invocation with `error`.
    fn fail_all(&self, error: &FunctionError) {
        let mut inner = self.lock();
        let mut pending: Vec<Pending> = inner.queue.drain(..).collect();
        pending.extend(inner.in_flight.drain().map(|(_, (_, p))| p));
        drop(inner);
        for p in pending {
            let _ = p.answer.send(Err(error.clone()));
        }
    }

    /// Starts an environment when there is none (the caller's cold start).
    /// Boxed: the task watching an environment calls it again when it ends.
    fn ensure_environment(self: Arc<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let generation = {
                let mut inner = self.lock();
                if inner.running.is_some() {
                    return;
                }
                inner.generation += 1;
                inner.running = Some(inner.generation);
                inner.spawned_at = Some(Instant::now());
                inner.init_error = None;
                inner.stats.cold_starts += 1;
                inner.generation
            };
            if let Err(e) = self.clone().start(generation).await {
                self.lock().running = None;
                self.fail_all(&FunctionError::new("Runtime.StartError", e));
            }
        })
    }

    /// A new environment: its Runtime API on a fresh port, then the process.
    async fn start(self: Arc<Self>, generation: u64) -> Result<(), String> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("cannot listen for the Runtime API: {e}"))?;
        let api = listener.local_addr().map_err(|e| e.to_string())?;
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Env {
                f: self.clone(),
                generation,
            });
        let mut child = tokio::process::Command::new(&self.spec.binary)
            .env_clear()
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.spec.binary.display()))?;
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let id = self.spec.id.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("[{id}] {line}");
                }
            });
        }
        self.lock().stats.pid = child.id();
        let (stop_tx, stop_rx) = oneshot::channel();
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop_tx);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let this = self.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status.ok(),
                _ = stop_rx => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    None
                }
            };
            server.abort();
            if this.environment_ended(generation, status) {
                this.clone().ensure_environment().await;
                this.ready.notify_waiters();
            }
        });
        Ok(())
    }

    /// The environment is gone: what it held fails (with its init error, if it
    /// reported one). True when invocations still wait for another environment.
    fn environment_ended(&self, generation: u64, status: Option<std::process::ExitStatus>) -> bool {
        let (error, current) = {
            let mut inner = self.lock();
            let current = inner.running == Some(generation);
            if current {
                inner.running = None;
                inner.stats.pid = None;
            }
            let error = inner
                .init_error
                .clone()
                .filter(|_| current)
                .unwrap_or_else(|| {
                    let how = status.map_or("stopped".to_owned(), |s| s.to_string());
                    FunctionError::new(
                        "Runtime.ExitError",
                        format!("RequestId: - Error: Runtime exited ({how})"),
                    )
                });
            (error, current)
        };
        // Handed-out invocations die with the environment.
        self.fail_in_flight(generation, &error);
        if !current {
            return false;
        }
        // Queued ones too when it never finished its init (Lambda fails the
        // invocation that triggered the cold start).
        let mut inner = self.lock();
        let dead: Vec<Pending> = if inner.init_error.is_some() || inner.spawned_at.is_some() {
            inner.queue.drain(..).collect()
        } else {
            Vec::new()
        };
        let waiting = !inner.queue.is_empty();
        drop(inner);
        for p in dead {
            let _ = p.answer.send(Err(error.clone()));
        }
        waiting
    }

    /// The next invocation for environment `generation`; none for a stopped one.
    fn take_next(&self, generation: u64) -> Option<(String, Value)> {
        let mut inner = self.lock();
        if inner.running != Some(generation) {
            return None;
        }
        if let Some(spawned) = inner.spawned_at.take() {
            inner.stats.last_init_ms = Some(spawned.elapsed().as_secs_f64() * 1000.0);
        }
        let p = inner.queue.pop_front()?;
        let out = (p.request_id.clone(), p.payload.clone());
        inner
            .in_flight
            .insert(p.request_id.clone(), (generation, p));
        Some(out)
    }

    fn answer(&self, request_id: &str, outcome: Outcome) -> StatusCode {
        match self.lock().in_flight.remove(request_id) {
            Some((_, p)) => {
                let _ = p.answer.send(outcome);
                StatusCode::ACCEPTED
            }
            None => StatusCode::NOT_FOUND,
        }
    }
}

/// One environment's view of its function.
#[derive(Clone)]
struct Env {
    f: Arc<Function>,
    generation: u64,
}

type Fn = State<Env>;

async fn next(State(Env { f, generation }): Fn) -> Response {
    let (request_id, payload) = loop {
        let notified = f.ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(next) = f.take_next(generation) {
            break next;
        }
        notified.await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + f.spec.timeout.as_millis() as i64;
    let hex = request_id.replace('-', "");
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        chrono::Utc::now().timestamp(),
        &hex[..24],
        &hex[..16]
    );
    (
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", request_id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", f.spec.arn.clone()),
            ("lambda-runtime-trace-id", trace),
        ],
        payload.to_string(),
    )
        .into_response()
}

async fn response(State(Env { f, .. }): Fn, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    f.answer(&id, Ok(value))
}

async fn error(
    State(Env { f, .. }): Fn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok());
    f.answer(&id, Err(FunctionError::from_body(header, &body)))
}

async fn init_error(
    State(Env { f, generation }): Fn,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok());
    let error = FunctionError::from_body(header, &body);
    eprintln!(
        "local-stack: {} init failed: {} {}",
        f.spec.id, error.error_type, error.message
    );
    let mut inner = f.lock();
    if inner.running == Some(generation) {
        inner.init_error = Some(error.clone());
    }
    inner.stats.last_init_error = Some(error);
    StatusCode::ACCEPTED
}

/// Lambda's Invoke answer for an outcome: the payload, or the error with
/// `X-Amz-Function-Error: Unhandled`.
pub fn invoke_response(outcome: Outcome) -> Response {
    match outcome {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (
            [("x-amz-function-error", "Unhandled")],
            axum::Json(json!(e)),
        )
            .into_response(),
    }
}

#[cfg(test)]
pub mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A custom runtime in sh and curl, as AWS's own tutorial writes one; `body`
    /// runs per invocation with $EVENT, $ID and $DEADLINE set.
    pub fn runtime(dir: &std::path::Path, init: &str, body: &str) -> PathBuf {
        let path = dir.join(format!("bootstrap-{}", uuid::Uuid::new_v4().simple()));
        let api = "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime";
        let script = format!(
            r#"#!/bin/sh
{init}
while true; do
  H=$(mktemp)
  EVENT=$(curl -sS -D "$H" "{api}/invocation/next")
  ID=$(grep -i '^lambda-runtime-aws-request-id:' "$H" | cut -d: -f2 | tr -d ' \r')
  DEADLINE=$(grep -i '^lambda-runtime-deadline-ms:' "$H" | cut -d: -f2 | tr -d ' \r')
  {body}
done
"#
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    pub fn function(binary: PathBuf, timeout: Duration) -> Arc<Function> {
        Function::new(Spec {
            id: "TestFunction".into(),
            name: "test".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:test:live".into(),
            binary,
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            timeout,
        })
    }

    const ECHO: &str = r#"curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/response" -d "{\"event\":$EVENT,\"deadline\":$DEADLINE}" >/dev/null"#;

    #[tokio::test]
    async fn invocations_reach_one_warm_environment_with_a_real_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let f = function(runtime(dir.path(), "", ECHO), Duration::from_secs(29));
        let before = chrono::Utc::now().timestamp_millis();
        for i in 0..3 {
            let answer = f.invoke(json!({"n": i})).await.unwrap();
            assert_eq!(answer["event"], json!({"n": i}));
            let deadline = answer["deadline"].as_i64().unwrap();
            assert!(
                deadline >= before + 28_000 && deadline <= before + 60_000,
                "{deadline}"
            );
        }
        let stats = f.stats();
        assert_eq!(
            (stats.cold_starts, stats.invocations, stats.errors),
            (1, 3, 0)
        );
        assert!(stats.last_init_ms.is_some());
        // A stopped environment means a cold start next time.
        f.stop_environment();
        f.invoke(json!({})).await.unwrap();
        assert_eq!(f.stats().cold_starts, 2);
        f.stop_environment();
    }

    #[tokio::test]
    async fn a_failed_init_is_the_invocations_error() {
        let dir = tempfile::tempdir().unwrap();
        let init = r#"curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" -H 'Lambda-Runtime-Function-Error-Type: Runtime.ContractViolation' -d '{"errorType":"Runtime.ContractViolation","errorMessage":"KDF_SALT"}'; exit 1"#;
        let f = function(runtime(dir.path(), init, ECHO), Duration::from_secs(10));
        let error = f.invoke(json!({})).await.unwrap_err();
        let expected = FunctionError::new("Runtime.ContractViolation", "KDF_SALT");
        assert_eq!(error, expected);
        assert_eq!(f.stats().last_init_error, Some(expected));
        // The next invocation tries a new environment.
        f.invoke(json!({})).await.unwrap_err();
        assert_eq!(f.stats().cold_starts, 2);
    }

    #[tokio::test]
    async fn handler_errors_exits_and_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"case "$EVENT" in
    *fail*) curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/error" -d '{"errorType":"Boom","errorMessage":"no"}' >/dev/null ;;
    *exit*) exit 3 ;;
    *sleep*) sleep 5 ;;
    *) curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/response" -d '"ok"' >/dev/null ;;
  esac"#;
        let f = function(runtime(dir.path(), "", body), Duration::from_secs(2));
        assert_eq!(
            f.invoke(json!("fail")).await.unwrap_err(),
            FunctionError::new("Boom", "no")
        );
        assert_eq!(f.invoke(json!("hi")).await.unwrap(), json!("ok"));
        let exited = f.invoke(json!("exit")).await.unwrap_err();
        assert_eq!(exited.error_type, "Runtime.ExitError");
        assert!(exited.message.contains("exit status: 3"), "{exited:?}");
        let timed_out = f.invoke(json!("sleep")).await.unwrap_err();
        assert_eq!(timed_out.error_type, "Sandbox.Timedout");
        assert_eq!(f.invoke(json!("hi")).await.unwrap(), json!("ok"));
        assert_eq!(f.stats().cold_starts, 3);
        f.stop_environment();
    }
}
