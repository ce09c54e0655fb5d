//! The compliance pack over its router, fed from events/, with the local
//! directory object store: gates, options, contents, hashes, FOCUS format,
//! formula safety, truncation and signed links.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use valdrix_shared::audit::{Actor, NewEvent};
use valdrix_shared::http::layers;
use valdrix_shared::ledger::ingest::ingest;
use valdrix_shared::state::{AppState, SharedState};
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{
    ADMIN_API_KEY, call, event_request, focus_csv, focus_line, local_signer, sqlite_store,
    test_config, unique, user_token,
};

const ALL_FLAGS: &str = "include_focus_export=true&include_savings_proof=true&include_realized_savings=true&include_close_package=true";

struct App {
    router: axum::Router,
    state: SharedState,
}

fn app(store: DynStore) -> App {
    let config = Arc::new(test_config(&[]));
    let dir = std::env::temp_dir().join(unique("valdrix-packs"));
    let objects = compliance_export::local_object_store(&dir, &config);
    let mut state = AppState::with_objects(config, store, Some(objects));
    Arc::get_mut(&mut state).unwrap().audit_signer = Some(local_signer());
    App {
        router: layers(compliance_export::router(state.clone()), &state.config),
        state,
    }
}

struct Tenant {
    id: String,
    owner: String,
    admin: String,
    member: String,
}

async fn tenant(state: &SharedState, tier: Tier) -> Tenant {
    let ctx = ChangeContext {
        actor: Actor::AdminKey,
        request_id: None,
    };
    let id = unique("acme");
    tenancy::create_tenant(&state.audit, Some(id.clone()), "Acme", tier, &ctx)
        .await
        .unwrap();
    let mut subs = Vec::new();
    for role in [Role::Owner, Role::Admin, Role::Member] {
        let sub = unique("user");
        tenancy::put_member(
            state.store.as_ref(),
            &state.audit,
            &id,
            &sub,
            role,
            &format!("{sub}@acme.example"),
            &ctx,
        )
        .await
        .unwrap();
        subs.push(user_token(&sub, &format!("{sub}@acme.example")));
    }
    Tenant {
        id,
        owner: subs[0].clone(),
        admin: subs[1].clone(),
        member: subs[2].clone(),
    }
}

fn pack_request(token: &str, query: &str, json_answer: bool) -> lambda_http::Request {
    let accept = if json_answer {
        "\"accept\": \"application/json\""
    } else {
        "\"accept\": \"*/*\""
    };
    event_request(
        "compliance-pack-get",
        &[
            ("REPLACE_WITH_TOKEN", token),
            (ALL_FLAGS, query),
            ("\"accept\": \"*/*\"", accept),
        ],
    )
}

/// Follow a local signed URL through the router: status and body bytes.
async fn fetch(router: &axum::Router, url: &str) -> (u16, Vec<u8>) {
    let path = url
        .strip_prefix("http://api.example.com")
        .unwrap_or_else(|| panic!("absolute URL on the request's host: {url}"));
    let response = router
        .clone()
        .oneshot(
            http::Request::get(path)
                .header("host", "api.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

/// Request a pack with `query`, download it, and return (answer, zip bytes).
async fn pack(app: &App, token: &str, query: &str) -> (Value, Vec<u8>) {
    let (status, _, answer) = call(&app.router, pack_request(token, query, true)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, bytes) = fetch(&app.router, answer["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["bytes"], bytes.len() as u64);
    assert_eq!(answer["sha256"], hex::encode(Sha256::digest(&bytes)));
    (answer, bytes)
}

fn entries(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.insert(f.name().unwrap().to_string(), data);
    }
    out
}

fn json_of(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_slice(
        files
            .get(path)
            .unwrap_or_else(|| panic!("{path} in the pack")),
    )
    .unwrap()
}

/// A standard tool (Python's zipfile) accepts the archive.
fn unzip_tool_accepts(bytes: &[u8]) {
    let path = std::env::temp_dir().join(format!("{}.zip", unique("pack")));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-t"])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "zipfile -t: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(path);
}

async fn seed(state: &SharedState, tenant: &str) {
    let csv = focus_csv(&[
        focus_line(
            "10.50",
            "2026-01-05T10:00:00Z",
            "2026-01-05T11:00:00Z",
            "Amazon Elastic Compute Cloud",
            "Compute",
            "i-0abc",
            r#"{"env":"prod","owner":"=HYPERLINK(\"http://evil.example\",\"x\")"}"#,
            "final",
        ),
        focus_line(
            "-2.25",
            "2026-01-06T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "Amazon Simple Storage Service",
            "Storage",
            "@bucket",
            "",
            "preliminary",
        ),
    ]);
    // The ledger is cost-ingest's to write.
    let report = valdrix_tests::iam_guard::as_another_function(ingest(
        &state.store,
        &state.audit,
        tenant,
        "test.csv",
        std::io::Cursor::new(csv.into_bytes()),
        Actor::System,
    ))
    .await
    .unwrap();
    assert_eq!((report.inserted, report.rejected), (2, 0), "{report:?}");
    for (i, kind) in ["evidence.check", "evidence.suite", "settings.updated"]
        .iter()
        .enumerate()
    {
        state
            .audit
            .append(NewEvent {
                tenant_id: tenant.into(),
                event_type: (*kind).into(),
                actor: Actor::System,
                request_id: None,
                resource: None,
                success: true,
                details: json!({"run_id": format!("run-{i}")}),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn gates_owner_only_and_pro_or_higher() {
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Starter).await;
    for (token, needle) in [
        (&t.member, "requires role owner"),
        (&t.admin, "requires role owner"),
        (&t.owner, "current tier: starter"),
    ] {
        let (status, _, body) = call(&app.router, pack_request(token, "", false)).await;
        assert_eq!(status, 403, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, _, _) = call(
        &app.router,
        event_request("compliance-pack-get", &[("REPLACE_WITH_TOKEN", "nope")]),
    )
    .await;
    assert_eq!(status, 401);

    tenancy::set_tier(
        app.state.store.as_ref(),
        &app.state.audit,
        &t.id,
        Tier::Pro,
        &ChangeContext {
            actor: Actor::AdminKey,
            request_id: None,
        },
    )
    .await
    .unwrap();
    let (status, headers, _) = call(&app.router, pack_request(&t.owner, ALL_FLAGS, false)).await;
    assert_eq!(status, 303);
    let location = headers["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://api.example.com/api/v1/audit/compliance-pack/download?"),
        "{location}"
    );
    let (status, bytes) = fetch(&app.router, location).await;
    assert_eq!(status, 200);
    unzip_tool_accepts(&bytes);
}

#[tokio::test]
async fn full_pack_opens_and_every_manifest_hash_matches() {
    valdrix_shared::metrics::capture();
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Pro).await;
    seed(&app.state, &t.id).await;
    // A remediation through the admin route.
    let (status, _, body) = call(
        &app.router,
        event_request(
            "admin-put-remediation",
            &[
                ("REPLACE_WITH_ADMIN_API_KEY", ADMIN_API_KEY),
                ("acme", &t.id),
            ],
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let query = format!(
        "{ALL_FLAGS}&focus_start_date=2026-01-01&focus_end_date=2026-01-31&close_enforce_finalized=false&focus_include_preliminary=true"
    );
    let (answer, bytes) = pack(&app, &t.owner, &query).await;
    unzip_tool_accepts(&bytes);
    let files = entries(&bytes);
    let manifest = json_of(&files, "manifest.json");

    // The export's metric line (EMF): one export, its size.
    let exported: Vec<Value> = valdrix_shared::metrics::captured()
        .into_iter()
        .filter(|l| l["Service"] == "compliance-export" && l["run_id"] == answer["run_id"])
        .collect();
    assert_eq!(exported.len(), 1, "{exported:#?}");
    assert_eq!(exported[0]["PackExports"], 1.0);
    assert_eq!(exported[0]["PackExportBytes"], bytes.len() as f64);
    assert_eq!(
        exported[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][1],
        json!({"Name": "PackExportBytes", "Unit": "Bytes"})
    );

    // Every other file is listed once with its size and hash.
    let listed: BTreeMap<String, (u64, String)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                (
                    f["bytes"].as_u64().unwrap(),
                    f["sha256"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    // All but the manifest itself and what signs it (SHA256SUMS and its .sig).
    let mut expected: Vec<_> = files
        .keys()
        .filter(|k| !["manifest.json", "SHA256SUMS", "SHA256SUMS.sig"].contains(&k.as_str()))
        .collect();
    expected.sort();
    assert_eq!(listed.keys().collect::<Vec<_>>(), expected);
    for (path, (size, sha)) in &listed {
        assert_eq!(files[path].len() as u64, *size, "{path}");
        assert_eq!(&hex::encode(Sha256::digest(&files[path])), sha, "{path}");
    }
    for path in [
        "audit_log.csv",
        "notification_settings.json",
        "integration_acceptance_evidence.json",
        "audit_chain.json",
        "exports/focus-v1.2.csv",
        "exports/savings-proof.json",
        "exports/savings-proof.csv",
        "exports/realized-savings.json",
        "exports/realized-savings.csv",
        "exports/close-package.json",
        "exports/close-package.csv",
    ] {
        assert!(files.contains_key(path), "{path} missing");
    }
    assert_eq!(manifest["run_id"], answer["run_id"]);
    assert_eq!(manifest["tenant_id"], t.id);
    assert_eq!(manifest["focus_version"], "1.2");
    assert_eq!(manifest["row_counts"]["focus_export"], 2);
    assert_eq!(manifest["truncated"]["focus_export"], false);
    assert_eq!(manifest["exports"]["close_package"]["status"], "ok");

    // The proof: every event of the range, signed up to the last one.
    let verified = valdrix_shared::exports::verify_pack(std::io::Cursor::new(&bytes), None)
        .unwrap_or_else(|f| panic!("the pack does not verify: {f}"));
    assert_eq!(verified.from_seq, 1);
    assert_eq!(
        Some(verified.to_seq),
        manifest["audit_chain_head"]["seq"].as_u64()
    );
    assert_eq!(
        manifest["last_checkpoint"]["seq"],
        manifest["audit_chain_head"]["seq"]
    );
    for path in ["VERIFY.md", "index.html", "audit/events.jsonl"] {
        assert!(files.contains_key(path), "{path} missing");
    }

    // The request was audited before the build: the chain head in the
    // manifest is that very event.
    let chain = json_of(&files, "audit_chain.json");
    assert_eq!(chain["verification"]["ok"], true);
    assert_eq!(manifest["audit_chain_head"], chain["head"]);
    let log = String::from_utf8(files["audit_log.csv"].clone()).unwrap();
    let newest = log.lines().nth(1).unwrap();
    assert!(newest.contains("audit.export_requested"), "{newest}");
    assert!(
        newest.contains(&format!(",{},", chain["head"]["seq"])),
        "{newest}"
    );

    // Redacted settings; evidence newest first and only evidence.* types.
    let settings = json_of(&files, "notification_settings.json");
    assert!(settings.get("secrets").is_none());
    assert!(settings.get("has_jira_api_token").is_some());
    let evidence = json_of(&files, "integration_acceptance_evidence.json");
    let types: Vec<_> = evidence
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["evidence.suite", "evidence.check"]);

    // Savings and realized savings from the remediation: (5 - 1) x 30 = 120.
    let realized = json_of(&files, "exports/realized-savings.json");
    assert_eq!(realized["rows"][0]["realized_monthly_savings"], "120.00");
    let proof = String::from_utf8(files["exports/savings-proof.csv"].clone()).unwrap();
    assert!(proof.contains("aws,USD,0,120.00,0,1,0,1"), "{proof}");
    let close = json_of(&files, "exports/close-package.json");
    assert_eq!(close["close_status"], "blocked_preliminary_data");
    assert_eq!(close["lifecycle"]["total_records"], 2);
    assert_eq!(close["lifecycle"]["by_currency"][0]["total_cost"], "8.25");
    let mut unhashed = close.clone();
    unhashed.as_object_mut().unwrap().remove("integrity_hash");
    assert_eq!(
        close["integrity_hash"],
        hex::encode(Sha256::digest(serde_json::to_vec(&unhashed).unwrap()))
    );
}

/// FOCUS 1.2's 21 Mandatory columns, typed from the specification's table.
const MANDATORY: [&str; 21] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
];

/// Some Conditional columns that our data never fills: present, empty.
const CONDITIONAL_EMPTY: [&str; 5] = [
    "CapacityReservationId",
    "CommitmentDiscountId",
    "SkuPriceDetails",
    "ConsumedQuantity",
    "SubAccountType",
];

#[tokio::test]
async fn focus_csv_follows_the_1_2_columns_and_formats_and_is_formula_safe() {
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Enterprise).await;
    seed(&app.state, &t.id).await;
    let query = "include_focus_export=true&focus_include_preliminary=true&focus_start_date=2026-01-01&focus_end_date=2026-01-31";
    let (_, bytes) = pack(&app, &t.owner, query).await;
    let files = entries(&bytes);
    let mut reader = csv::Reader::from_reader(&files["exports/focus-v1.2.csv"][..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.len(), 57 + 4);
    for column in MANDATORY.iter().chain(&CONDITIONAL_EMPTY) {
        assert!(header.iter().any(|h| h == column), "{column} missing");
    }
    let first_custom = header
        .iter()
        .position(|h| !h.chars().next().unwrap().is_uppercase())
        .unwrap();
    assert_eq!(first_custom, 57, "FOCUS columns first");
    assert!(header[57..].iter().all(|h| h.starts_with("x_")));
    let rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2);
    let ec2 = &rows[0];
    assert_eq!(ec2["BilledCost"], "10.50");
    assert_eq!(ec2["ChargePeriodStart"], "2026-01-05T10:00:00Z");
    assert_eq!(ec2["BillingPeriodStart"], "2026-01-01T00:00:00Z");
    assert_eq!(ec2["BillingPeriodEnd"], "2026-02-01T00:00:00Z");
    assert_eq!(ec2["ServiceCategory"], "Compute");
    assert_eq!(ec2["ChargeFrequency"], "Usage-Based");
    assert_eq!(ec2["x_CostLifecycle"], "final");
    for column in CONDITIONAL_EMPTY {
        assert_eq!(ec2[column], "", "{column}");
    }
    let ts = regex_like_utc;
    for column in [
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "BillingPeriodStart",
        "BillingPeriodEnd",
    ] {
        assert!(rows.iter().all(|r| ts(&r[column])), "{column}");
    }
    // The formula in a tag is neutralised; JSON stays valid and sorted.
    let tags: Value = serde_json::from_str(&ec2["Tags"]).unwrap();
    assert_eq!(tags["owner"], "'=HYPERLINK(\"http://evil.example\",\"x\")");
    assert_eq!(tags["env"], "prod");
    // A negative number stays a number; text starting with @ is guarded.
    let s3 = &rows[1];
    assert_eq!(s3["BilledCost"], "-2.25");
    assert_eq!(s3["ResourceId"], "'@bucket");
    // No cell anywhere starts with a formula trigger unguarded, except numbers.
    for row in &rows {
        for (k, v) in row {
            if v.starts_with(['=', '+', '@', '\t', '\r']) {
                panic!("{k}={v} is unguarded");
            }
            if v.starts_with('-') {
                assert!(v.parse::<f64>().is_ok(), "{k}={v}");
            }
        }
    }
}

fn regex_like_utc(v: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%SZ").is_ok() && v.len() == 20
}

#[tokio::test]
async fn failing_export_leaves_only_an_error_file_and_truncation_is_exact() {
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Pro).await;
    seed(&app.state, &t.id).await;
    // Preliminary data with the default close_enforce_finalized=true.
    let q = "include_close_package=true&include_focus_export=true&focus_start_date=2026-01-01&focus_end_date=2026-01-31&focus_max_rows=1";
    let (_, bytes) = pack(&app, &t.owner, q).await;
    unzip_tool_accepts(&bytes);
    let files = entries(&bytes);
    let manifest = json_of(&files, "manifest.json");
    assert!(!files.contains_key("exports/close-package.csv"));
    assert!(!files.contains_key("exports/close-package.json"));
    let error = json_of(&files, "exports/close-package.error.json");
    assert!(
        error["error"].as_str().unwrap().contains("preliminary"),
        "{error}"
    );
    assert_eq!(manifest["exports"]["close_package"]["status"], "error");
    // One FINAL row exists and max is 1: nothing left out.
    assert_eq!(manifest["row_counts"]["focus_export"], 1);
    assert_eq!(manifest["truncated"]["focus_export"], false);
    // With preliminary rows, two match and max 1 leaves one out.
    let (_, bytes) = pack(
        &app,
        &t.owner,
        &format!("{q}&focus_include_preliminary=true"),
    )
    .await;
    let manifest = json_of(&entries(&bytes), "manifest.json");
    assert_eq!(manifest["row_counts"]["focus_export"], 1);
    assert_eq!(manifest["truncated"]["focus_export"], true);
}

#[tokio::test]
async fn bad_options_are_422_naming_the_parameter() {
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Pro).await;
    for (query, param) in [
        ("evidence_limit=0", "evidence_limit"),
        ("focus_max_rows=abc", "focus_max_rows"),
        ("include_focus_export=perhaps", "include_focus_export"),
        ("focus_provider=oracle", "focus_provider"),
        ("start_date=2026-02-01&end_date=2026-01-01", "start_date"),
        (
            "realized_start_date=2026-02-01&realized_end_date=2026-01-01",
            "realized_start_date",
        ),
        ("close_max_restatements=200001", "close_max_restatements"),
    ] {
        let (status, _, body) = call(&app.router, pack_request(&t.owner, query, false)).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], param, "{query}: {body}");
    }
}

#[tokio::test]
async fn signed_links_refuse_tampering() {
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Pro).await;
    let (status, _, answer) = call(&app.router, pack_request(&t.owner, "", true)).await;
    assert_eq!(status, 200, "{answer}");
    let url = answer["url"].as_str().unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(answer["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((60..=300).contains(&ttl), "expires within minutes: {ttl}s");
    assert_eq!(fetch(&app.router, url).await.0, 200);
    let forged = url.replace("key=packs", "key=packz");
    assert_eq!(fetch(&app.router, &forged).await.0, 403);
    let sig_at = url.find("sig=").unwrap() + 4;
    let mut tampered = url.to_owned();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(fetch(&app.router, &tampered).await.0, 403);
}

/// POST a remediation for `tenant` through the admin route: status and body.
async fn post_remediation(app: &App, tenant: &str, body: Value) -> (u16, Value) {
    let response = app
        .router
        .clone()
        .oneshot(
            http::Request::post(format!("/api/v1/admin/tenants/{tenant}/remediations"))
                .header("x-admin-key", ADMIN_API_KEY)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// Regression: amounts near `Decimal::MAX` were
/// accepted, and two of them overflowed the savings sums: the pack panicked (500).
#[tokio::test]
async fn remediation_amounts_are_bounded_so_the_savings_sums_cannot_overflow() {
    let app = app(sqlite_store().await);
    let t = tenant(&app.state, Tier::Pro).await;
    let huge = "79228162514264337593543950335";
    let window = |avg: &str| json!({"start_date": "2026-01-01", "end_date": "2026-01-31", "avg_daily_cost": avg});
    let remediation = |id: &str, savings: &str| {
        json!({"id": id, "action": "rightsize", "resource_id": "i-1", "provider": "aws",
               "status": "completed", "estimated_monthly_savings": savings,
               "executed_at": "2026-02-10T12:00:00Z"})
    };
    for (body, field) in [
        (remediation("r-big", huge), "estimated_monthly_savings"),
        (
            remediation("r-neg", &format!("-{huge}")),
            "estimated_monthly_savings",
        ),
        (
            {
                let mut b = remediation("r-win", "1");
                b["baseline"] = window(huge);
                b["measurement"] = window("0");
                b
            },
            "baseline.avg_daily_cost",
        ),
    ] {
        let (status, answer) = post_remediation(&app, &t.id, body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["errors"][0]["field"], field, "{answer}");
    }

    // The largest amounts accepted, twice, still make a pack.
    let max = valdrix_shared::ledger::MAX_AMOUNT.to_string();
    for id in ["r-1", "r-2"] {
        let mut body = remediation(id, &max);
        body["baseline"] = window(&max);
        body["measurement"] = window("0");
        let (status, answer) = post_remediation(&app, &t.id, body).await;
        assert_eq!(status, 201, "{answer}");
    }
    let (_, bytes) = pack(
        &app,
        &t.owner,
        "include_savings_proof=true&include_realized_savings=true&start_date=2026-02-01&end_date=2026-02-28",
    )
    .await;
    let summary = json_of(&entries(&bytes), "exports/savings-proof.json");
    assert_eq!(
        summary["totals"][0]["realized_monthly"], "60000000000000",
        "{summary}"
    );
}
