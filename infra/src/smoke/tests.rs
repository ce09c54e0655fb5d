use std::io::{Cursor, Write};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::api::{Api, delivery_states};
use super::pack_check::{sha256_hex, verify_pack};
use super::report_json;
use super::steps::{Options, StepResult, line, run_steps, step};

/// A ZIP with these members and a manifest listing `listed` of them
/// (path, content) with their true size and hash.
fn pack(members: &[(&str, &[u8])], manifest_files: Value) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("manifest.json", opts).unwrap();
        zip.write_all(
            json!({"generated_at": "2026-01-01T00:00:00Z", "files": manifest_files})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        for (name, content) in members {
            zip.start_file(*name, opts).unwrap();
            zip.write_all(content).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn entry(path: &str, content: &[u8]) -> Value {
    json!({"path": path, "bytes": content.len(), "sha256": sha256_hex(content)})
}

const AUDIT: &[u8] = b"event_id,action\n1,settings.update\n";
const FOCUS: &[u8] = b"BilledCost,ChargePeriodStart\n1.00,2026-01-01\n";

fn good_pack() -> Vec<u8> {
    pack(
        &[("audit_log.csv", AUDIT), ("focus/export.csv", FOCUS)],
        json!([
            entry("audit_log.csv", AUDIT),
            entry("focus/export.csv", FOCUS)
        ]),
    )
}

#[test]
fn a_pack_whose_hashes_all_match_verifies() {
    let zip = good_pack();
    let summary = verify_pack(&zip, &sha256_hex(&zip), zip.len() as u64).unwrap();
    assert_eq!(summary.files, ["audit_log.csv", "focus/export.csv"]);
    // The hash may come upper-case.
    verify_pack(&zip, &sha256_hex(&zip).to_uppercase(), zip.len() as u64).unwrap();
}

#[test]
fn the_download_must_match_the_apis_hash_and_size() {
    let zip = good_pack();
    let err = verify_pack(&zip, &sha256_hex(b"other"), zip.len() as u64).unwrap_err();
    assert!(err.contains("sha256"), "{err}");
    let err = verify_pack(&zip, &sha256_hex(&zip), zip.len() as u64 + 1).unwrap_err();
    assert!(err.contains("bytes"), "{err}");
    let err = verify_pack(b"not a zip", &sha256_hex(b"not a zip"), 9).unwrap_err();
    assert!(err.contains("not a ZIP"), "{err}");
}

#[test]
fn a_member_that_differs_from_its_manifest_entry_fails() {
    let tampered: &[u8] = b"event_id,action\n1,settings.DELETE\n";
    let zip = pack(
        &[("audit_log.csv", tampered), ("focus/export.csv", FOCUS)],
        json!([
            entry("audit_log.csv", AUDIT),
            entry("focus/export.csv", FOCUS)
        ]),
    );
    let err = verify_pack(&zip, &sha256_hex(&zip), zip.len() as u64).unwrap_err();
    assert!(err.contains("audit_log.csv: sha256"), "{err}");
    assert!(!err.contains("focus/export.csv"), "{err}");

    let wrong_size = pack(
        &[("audit_log.csv", AUDIT)],
        json!([{"path": "audit_log.csv", "bytes": 1, "sha256": sha256_hex(AUDIT)}]),
    );
    let err = verify_pack(
        &wrong_size,
        &sha256_hex(&wrong_size),
        wrong_size.len() as u64,
    )
    .unwrap_err();
    assert!(err.contains("manifest says 1"), "{err}");
}

#[test]
fn missing_unlisted_and_malformed_entries_fail() {
    let missing = pack(
        &[("audit_log.csv", AUDIT)],
        json!([
            entry("audit_log.csv", AUDIT),
            entry("focus/export.csv", FOCUS)
        ]),
    );
    let err = verify_pack(&missing, &sha256_hex(&missing), missing.len() as u64).unwrap_err();
    assert!(err.contains("focus/export.csv is missing"), "{err}");

    let unlisted = pack(
        &[("audit_log.csv", AUDIT), ("extra.csv", FOCUS)],
        json!([entry("audit_log.csv", AUDIT)]),
    );
    let err = verify_pack(&unlisted, &sha256_hex(&unlisted), unlisted.len() as u64).unwrap_err();
    assert!(
        err.contains("extra.csv is in the pack but not in manifest.json"),
        "{err}"
    );

    let malformed = pack(
        &[("audit_log.csv", AUDIT)],
        json!([{"path": "audit_log.csv"}]),
    );
    let err = verify_pack(&malformed, &sha256_hex(&malformed), malformed.len() as u64).unwrap_err();
    assert!(err.contains("lacks path, sha256 or bytes"), "{err}");

    let empty = pack(&[], json!([]));
    let err = verify_pack(&empty, &sha256_hex(&empty), empty.len() as u64).unwrap_err();
    assert!(err.contains("lists no files"), "{err}");
}

#[test]
fn a_pack_without_manifest_fails() {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        zip.start_file("audit_log.csv", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(AUDIT).unwrap();
        zip.finish().unwrap();
    }
    let zip = out.into_inner();
    let err = verify_pack(&zip, &sha256_hex(&zip), zip.len() as u64).unwrap_err();
    assert_eq!(err, "manifest.json is missing from the pack");
}

#[test]
fn pass_and_fail_lines() {
    let pass = StepResult {
        name: "health",
        ok: true,
        latency_ms: 12,
        status: Some(200),
        ..StepResult::default()
    };
    assert_eq!(line(&pass), "PASS health 12ms");
    let noted = StepResult {
        detail: Some("run r-1".into()),
        ..pass.clone()
    };
    assert_eq!(line(&noted), "PASS health 12ms (run r-1)");
    let fail = StepResult {
        name: "test-jira",
        ok: false,
        latency_ms: 40,
        status: Some(502),
        detail: Some("jira answered 500".into()),
        data: Value::Null,
    };
    assert_eq!(line(&fail), "FAIL test-jira 502: jira answered 500");
    let no_status = StepResult {
        status: None,
        detail: Some("connection failed".into()),
        ..fail.clone()
    };
    assert_eq!(line(&no_status), "FAIL test-jira: connection failed");
}

#[test]
fn the_report_lists_every_step_and_fails_on_any_failure() {
    let ok = StepResult {
        name: "health",
        ok: true,
        latency_ms: 3,
        status: Some(200),
        ..StepResult::default()
    };
    let bad = StepResult {
        name: "test-workflow",
        ok: false,
        status: Some(400),
        detail: Some("not configured".into()),
        ..StepResult::default()
    };
    let report = report_json("http://x", &[ok.clone(), bad]);
    assert_eq!(report["passed"], false);
    assert_eq!(report["passed_steps"], 1);
    assert_eq!(report["failed_steps"], 1);
    assert_eq!(
        report["steps"][0],
        json!({"name": "health", "ok": true, "latency_ms": 3, "status": 200})
    );
    assert_eq!(report["steps"][1]["detail"], "not configured");
    assert_eq!(report_json("http://x", &[ok])["passed"], true);
    assert_eq!(report_json("http://x", &[])["passed"], false);
}

#[test]
fn delivery_states_are_read_wherever_the_list_is() {
    let top = json!({"event_id": "e", "deliveries": [
        {"delivery_id": "d1", "channel": "slack", "target": "#ops", "status": "delivered"},
        {"delivery_id": "d2", "status": "retrying"},
    ]});
    assert_eq!(
        delivery_states(&top),
        [
            ("slack:#ops".to_owned(), "delivered".to_owned()),
            ("d2".to_owned(), "retrying".to_owned())
        ]
    );
    let nested = json!({"event": {"deliveries": [{"channel": "jira", "status": "dead"}]}});
    assert_eq!(
        delivery_states(&nested),
        [("jira".to_owned(), "dead".to_owned())]
    );
    assert!(delivery_states(&json!({})).is_empty());
}

const TOKEN: &str = "test-token";
const KEY: &str = "test-admin-key";

/// A fake API with every route the smoke command calls, answering as the
/// issues specify; `jira` is test-jira's answer.
/// A real pack of the demo tenant, exported and signed as the API does: the
/// smoke checks its proof too.
async fn signed_pack() -> Vec<u8> {
    use valdrix_shared::audit::{Actor, NewEvent};
    use valdrix_shared::exports::{ExportRequest, export_pack, options};
    let state = valdrix_tests::state_with(valdrix_tests::sqlite_store().await);
    state
        .audit
        .append(NewEvent {
            tenant_id: "demo".into(),
            event_type: "tenant.created".into(),
            actor: Actor::System,
            request_id: None,
            resource: Some("tenant/demo".into()),
            success: true,
            details: json!({}),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let objects = valdrix_shared::objects::LocalDirStore::new(dir.path(), [7u8; 32]);
    let now = chrono::Utc::now();
    let exported = export_pack(
        &state.store,
        &state.audit,
        &objects,
        valdrix_tests::local_signer().as_ref(),
        ExportRequest {
            tenant_id: "demo".into(),
            tier: "pro".into(),
            actor: Actor::System,
            request_id: None,
            environment: "local".into(),
            method: "GET".into(),
            path: "/api/v1/audit/compliance-pack".into(),
            options: options::parse(&[], now.date_naive()).unwrap(),
            now,
            deadline: valdrix_shared::deadline::Deadline::unbounded(),
        },
    )
    .await
    .unwrap();
    std::fs::read(
        dir.path()
            .join(format!("packs/demo/{}.zip", exported.run_id)),
    )
    .unwrap()
}

async fn fake_api(jira: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    let auth = format!("Bearer {TOKEN}");
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "healthy"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/settings/notifications/test-jira"))
        .and(header("authorization", auth.as_str()))
        .respond_with(jira)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/settings/notifications/test-workflow"))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "success", "channel": "workflow", "run_id": "w-1", "targets": []}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/v1/settings/notifications/acceptance-evidence/capture",
        ))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "run_id": "run-42", "overall_status": "success", "passed": 2, "failed": 0, "results": []
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/settings/notifications/acceptance-evidence"))
        .and(query_param("run_id", "run-42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"run_id": "run-42", "channel": "slack"}], "next_cursor": null
        })))
        .mount(&server)
        .await;
    let zip = signed_pack().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/audit/compliance-pack"))
        .and(query_param("include_close_package", "true"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": "/_packs/p1.zip", "expires_at": "2026-01-01T00:05:00Z",
            "bytes": zip.len(), "sha256": sha256_hex(&zip),
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/_packs/p1.zip"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"tenant_id": "demo", "role": "owner"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/policy/events"))
        .and(header("x-admin-key", KEY))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(json!({"event_id": "x", "deliveries": []})),
        )
        .mount(&server)
        .await;
    // The first read finds the delivery pending, later ones delivered.
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(r"^/api/v1/policy/events/smoke-.+$"))
        .and(header("x-admin-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "deliveries": [{"delivery_id": "d1", "channel": "slack", "target": "#ops", "status": "pending"}]
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(r"^/api/v1/policy/events/smoke-.+$"))
        .and(header("x-admin-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "deliveries": [{"delivery_id": "d1", "channel": "slack", "target": "#ops", "status": "delivered"}]
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn options(server: &MockServer, token: bool) -> Options {
    Options {
        base_url: server.uri(),
        token: token.then(|| TOKEN.to_owned()),
        admin_key: Some(KEY.to_owned()),
        delivery_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
    }
}

#[tokio::test]
async fn every_step_passes_against_a_healthy_api() {
    let server = fake_api(ResponseTemplate::new(200).set_body_json(
        json!({"status": "success", "channel": "jira", "run_id": "j-1", "targets": []}),
    ))
    .await;
    let mut lines = Vec::new();
    let steps = run_steps(&options(&server, true), &reqwest::Client::new(), |s| {
        lines.push(line(s))
    })
    .await;
    assert!(steps.iter().all(|s| s.ok), "{lines:#?}");
    let names: Vec<_> = steps.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "health",
            "test-jira",
            "test-workflow",
            "evidence-capture",
            "evidence-list",
            "compliance-pack",
            "policy-event"
        ]
    );
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().all(|l| l.starts_with("PASS ")), "{lines:#?}");
    let policy = &steps[6];
    assert_eq!(policy.data["deliveries"][0]["status"], "delivered");

    // The policy event was for the token's tenant, with the fixed shape.
    let requests = server.received_requests().await.unwrap();
    let posted = requests
        .iter()
        .find(|r| r.url.path() == "/api/v1/policy/events")
        .unwrap();
    let body: Value = serde_json::from_slice(&posted.body).unwrap();
    assert_eq!(body["tenant_id"], "demo");
    assert_eq!(body["decision"], "block");
    assert!(body["event_id"].as_str().unwrap().starts_with("smoke-"));
    // The token never went anywhere but the API's routes.
    assert!(lines.iter().all(|l| !l.contains(TOKEN) && !l.contains(KEY)));
}

#[tokio::test]
async fn a_failing_step_is_a_fail_line_and_the_rest_still_run() {
    let server =
        fake_api(ResponseTemplate::new(502).set_body_json(json!({"detail": "jira answered 500"})))
            .await;
    let steps = run_steps(&options(&server, true), &reqwest::Client::new(), |_| {}).await;
    let lines: Vec<_> = steps.iter().map(line).collect();
    assert_eq!(lines[1], "FAIL test-jira 502: jira answered 500");
    assert_eq!(steps.iter().filter(|s| !s.ok).count(), 1, "{lines:#?}");
    assert_eq!(report_json(&server.uri(), &steps)["passed"], false);
}

#[tokio::test]
async fn without_a_token_the_authenticated_steps_fail_as_not_run() {
    let server = fake_api(ResponseTemplate::new(200)).await;
    let steps = run_steps(&options(&server, false), &reqwest::Client::new(), |_| {}).await;
    assert!(steps[0].ok);
    assert_eq!(steps.len(), 7);
    assert!(
        steps[1..]
            .iter()
            .all(|s| !s.ok && s.detail.as_deref() == Some("not run: needs --token"))
    );
}

#[tokio::test]
async fn undelivered_deliveries_fail_after_the_bound() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tenant_id": "demo"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/policy/events"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(r"^/api/v1/policy/events/.+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "deliveries": [{"channel": "slack", "status": "delivered"}, {"channel": "jira", "status": "retrying"}]
        })))
        .mount(&server)
        .await;
    let opts = Options {
        delivery_timeout: Duration::from_millis(200),
        ..options(&server, true)
    };
    let api = Api {
        base: &opts.base_url,
        http: &reqwest::Client::new(),
        token: opts.token.as_deref(),
        admin_key: opts.admin_key.as_deref(),
    };
    let result = step(
        "policy-event",
        api.policy_event(opts.delivery_timeout, opts.poll_interval),
    )
    .await;
    assert!(!result.ok);
    let detail = result.detail.unwrap();
    assert!(
        detail.contains("jira=retrying") && detail.contains("slack=delivered"),
        "{detail}"
    );
}
