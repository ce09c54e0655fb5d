//! The API as the smoke steps call it: one method per route, with the shared
//! plumbing (send, status checks, error details, finding values in answers).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::COMPLIANCE_PACK_PATH;
use super::pack_check::verify_pack;
use super::steps::{Failure, Passed};

const NOTIFICATIONS: &str = "/api/v1/settings/notifications";

pub(super) struct Api<'a> {
    pub(super) base: &'a str,
    pub(super) http: &'a reqwest::Client,
    pub(super) token: Option<&'a str>,
    pub(super) admin_key: Option<&'a str>,
}

/// A response body as JSON (or its text as a JSON string), with its status.
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Value), Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::msg(http_error(&e)))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure(Some(status), http_error(&e)))?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, body))
}

fn http_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // Signed download URLs carry credentials in their query: never print them.
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{kind}: {text}")
}

/// The API's error detail (its `detail` field, else the body), kept short.
fn detail_of(body: &Value) -> String {
    let text = match body.get("detail").or_else(|| body.get("message")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => match body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    };
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_owned()
    }
}

fn expect_status(status: u16, want: &[u16], body: &Value) -> Result<(), Failure> {
    if want.contains(&status) {
        Ok(())
    } else {
        Err(Failure(Some(status), detail_of(body)))
    }
}

/// Every string value of `key` anywhere in `value`.
pub fn find_strings<'v>(value: &'v Value, key: &str, out: &mut Vec<&'v str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(s) = v.as_str()
                {
                    out.push(s);
                }
                find_strings(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| find_strings(v, key, out)),
        _ => {}
    }
}

/// The first array under `key` anywhere in `value`.
fn find_array<'v>(value: &'v Value, key: &str) -> Option<&'v Vec<Value>> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_array)
            .or_else(|| map.values().find_map(|v| find_array(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_array(v, key)),
        _ => None,
    }
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn user(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn admin(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.admin_key {
            Some(key) => request.header(valdrix_shared::auth::ADMIN_KEY_HEADER.as_str(), key),
            None => request,
        }
    }

    pub(super) async fn health(&self) -> Result<Passed, Failure> {
        let (status, body) = send(self.http.get(self.url("/health"))).await?;
        expect_status(status, &[200], &body)?;
        match body["status"].as_str() {
            Some("healthy") => Ok(Passed {
                status: Some(status),
                ..Passed::default()
            }),
            other => Err(Failure(
                Some(status),
                format!("status is {}, not healthy", other.unwrap_or("missing")),
            )),
        }
    }

    pub(super) async fn test_call(&self, which: &str) -> Result<Passed, Failure> {
        let url = self.url(&format!("{NOTIFICATIONS}/{which}"));
        let (status, body) = send(self.user(self.http.post(url))).await?;
        expect_status(status, &[200], &body)?;
        if body["status"] != "success" {
            return Err(Failure(
                Some(status),
                format!("status is {}, not success", body["status"]),
            ));
        }
        Ok(Passed {
            status: Some(status),
            note: body["run_id"].as_str().map(|r| format!("run {r}")),
            data: json!({"run_id": body["run_id"], "targets": body["targets"]}),
        })
    }

    pub(super) async fn capture(&self) -> Result<Passed, Failure> {
        let url = self.url(&format!("{NOTIFICATIONS}/acceptance-evidence/capture"));
        let (status, body) = send(self.user(self.http.post(url))).await?;
        expect_status(status, &[200, 201], &body)?;
        let Some(run_id) = body["run_id"].as_str() else {
            return Err(Failure(Some(status), "the answer has no run_id".into()));
        };
        let overall = body["overall_status"].as_str().unwrap_or("missing");
        if overall != "success" {
            return Err(Failure(
                Some(status),
                format!(
                    "run {run_id}: overall_status is {overall} (passed {}, failed {})",
                    body["passed"], body["failed"]
                ),
            ));
        }
        Ok(Passed {
            status: Some(status),
            note: Some(format!("run {run_id}")),
            data: json!({"run_id": run_id, "overall_status": overall}),
        })
    }

    pub(super) async fn evidence_list(&self, run_id: &str) -> Result<Passed, Failure> {
        let url = self.url(&format!("{NOTIFICATIONS}/acceptance-evidence"));
        let request = self.user(self.http.get(url).query(&[("run_id", run_id)]));
        let (status, body) = send(request).await?;
        expect_status(status, &[200], &body)?;
        let mut run_ids = Vec::new();
        find_strings(&body, "run_id", &mut run_ids);
        let found = run_ids.iter().filter(|r| **r == run_id).count();
        if found == 0 {
            return Err(Failure(
                Some(status),
                format!("run {run_id} is not in the list"),
            ));
        }
        Ok(Passed {
            status: Some(status),
            note: Some(format!("{found} item(s) of run {run_id}")),
            data: json!({"run_id": run_id, "items": found}),
        })
    }

    /// Poll an export job (`202`'s body names it) until it has ended: its
    /// `succeeded` state carries the pack's url, sha256 and bytes.
    async fn finished_job(&self, accepted: &Value) -> Result<Value, Failure> {
        let id = accepted["id"]
            .as_str()
            .ok_or_else(|| Failure(Some(202), "the 202 names no export job".into()))?;
        let path = format!("/api/v1/audit/compliance-pack/exports/{id}");
        // Three invocations of 15 minutes at most.
        let give_up = Instant::now() + Duration::from_secs(46 * 60);
        loop {
            let (status, job) = send(self.user(self.http.get(self.url(&path)))).await?;
            expect_status(status, &[200], &job)?;
            match job["state"].as_str() {
                Some("succeeded") => return Ok(job),
                Some("failed") => return Err(Failure(Some(status), detail_of(&job["problem"]))),
                _ if Instant::now() > give_up => {
                    return Err(Failure(
                        Some(status),
                        format!("export job {id} did not end"),
                    ));
                }
                _ => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }

    pub(super) async fn compliance_pack(&self) -> Result<Passed, Failure> {
        let request = self
            .user(self.http.get(self.url(COMPLIANCE_PACK_PATH)))
            .header(reqwest::header::ACCEPT, "application/json");
        let (status, body) = send(request).await?;
        expect_status(status, &[200, 202], &body)?;
        // 202: too big for the API's budget, handed to an export job.
        let body = match status {
            202 => self.finished_job(&body).await?,
            _ => body,
        };
        let (Some(url), Some(sha256), Some(bytes)) = (
            body["url"].as_str(),
            body["sha256"].as_str(),
            body["bytes"].as_u64(),
        ) else {
            return Err(Failure(
                Some(status),
                "the answer lacks url, sha256 or bytes".into(),
            ));
        };
        // A relative URL is the API's own (valdrix serve); an absolute one is a
        // signed object-store URL, fetched without our credentials.
        let download = if url.starts_with('/') {
            self.user(self.http.get(self.url(url)))
        } else {
            self.http.get(url)
        };
        let response = download
            .send()
            .await
            .map_err(|e| Failure::msg(format!("download: {}", http_error(&e))))?;
        let dl_status = response.status().as_u16();
        if dl_status != 200 {
            return Err(Failure(
                Some(dl_status),
                "download of the pack failed".into(),
            ));
        }
        let zip = response
            .bytes()
            .await
            .map_err(|e| Failure::msg(format!("download: {}", http_error(&e))))?;
        let summary = verify_pack(&zip, sha256, bytes).map_err(|e| Failure(Some(status), e))?;
        // Its proof too: the chain, the signed checkpoints, SHA256SUMS.sig.
        let proof = valdrix_shared::exports::verify_pack(std::io::Cursor::new(&zip[..]), None)
            .map_err(|e| Failure(Some(status), e.to_string()))?;
        Ok(Passed {
            status: Some(status),
            note: Some(format!(
                "{} bytes, {} files verified, events {}..{} chained and signed",
                bytes,
                summary.files.len(),
                proof.from_seq,
                proof.to_seq
            )),
            data: json!({"bytes": bytes, "sha256": sha256, "files": summary.files}),
        })
    }

    pub(super) async fn policy_event(
        &self,
        wait: Duration,
        poll: Duration,
    ) -> Result<Passed, Failure> {
        let (status, me) = send(self.user(self.http.get(self.url("/api/v1/me")))).await?;
        expect_status(status, &[200], &me)
            .map_err(|Failure(s, d)| Failure(s, format!("GET /api/v1/me: {d}")))?;
        let Some(tenant_id) = me["tenant_id"].as_str() else {
            return Err(Failure(
                Some(status),
                "GET /api/v1/me has no tenant_id".into(),
            ));
        };
        let event_id = format!("smoke-{}", uuid::Uuid::new_v4());
        let event = json!({
            "event_id": event_id,
            "tenant_id": tenant_id,
            "decision": "block",
            "action": "smoke.test",
            "resource_id": "smoke-resource",
            "summary": "valdrix smoke test",
        });
        let request = self.admin(
            self.http
                .post(self.url("/api/v1/policy/events"))
                .json(&event),
        );
        let (status, body) = send(request).await?;
        expect_status(status, &[202], &body)?;

        let deadline = Instant::now() + wait;
        let path = format!("/api/v1/policy/events/{event_id}");
        loop {
            let (status, body) = send(self.admin(self.http.get(self.url(&path)))).await?;
            expect_status(status, &[200], &body)?;
            let deliveries = delivery_states(&body);
            let summary = deliveries
                .iter()
                .map(|(id, s)| format!("{id}={s}"))
                .collect::<Vec<_>>()
                .join(", ");
            let data = json!({
                "event_id": event_id,
                "deliveries": deliveries.iter().map(|(id, s)| json!({"delivery": id, "status": s})).collect::<Vec<_>>(),
            });
            if deliveries.is_empty() {
                return Err(Failure(
                    Some(status),
                    format!("event {event_id} has no deliveries (no channel enabled?)"),
                ));
            }
            if deliveries.iter().all(|(_, s)| s == "delivered") {
                return Ok(Passed {
                    status: Some(202),
                    note: Some(format!("event {event_id}: {summary}")),
                    data,
                });
            }
            if deliveries.iter().any(|(_, s)| s == "dead") || Instant::now() >= deadline {
                let why = if Instant::now() >= deadline {
                    format!("not all delivered after {}s", wait.as_secs())
                } else {
                    "a delivery is dead".to_owned()
                };
                return Err(Failure(
                    Some(status),
                    format!("event {event_id}: {why}: {summary}"),
                ));
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Each delivery's name (channel/target, else id) and status.
pub fn delivery_states(body: &Value) -> Vec<(String, String)> {
    find_array(body, "deliveries")
        .map(|items| {
            items
                .iter()
                .map(|d| {
                    let name = match (d["channel"].as_str(), d["target"].as_str()) {
                        (Some(c), Some(t)) => format!("{c}:{t}"),
                        (Some(c), None) => c.to_owned(),
                        _ => d["delivery_id"].as_str().unwrap_or("?").to_owned(),
                    };
                    (name, d["status"].as_str().unwrap_or("missing").to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}
