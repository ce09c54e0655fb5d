//! Warm latency per route of a release `valdrix serve --sandbox` on the
//! embedded store, and throughput under wrk for a few of them.
//!
//!     cargo bench -p valdrix --bench warm      # BENCH_REQUESTS (10000), BENCH_WRK_SECONDS (15)
//!
//! Seeding: the sandbox points the demo tenant's five integrations at local
//! receivers; 20 evidence captures fill the evidence list; one `block` event
//! of the demo tenant is dispatched to the five receivers (the GET route reads
//! it with its deliveries). POSTed events go to a second tenant with no
//! targets, so each POST writes the event and its audit entry and nothing is
//! dispatched in-process behind the measurement (in AWS dispatch is another
//! function's work).
//!
//! Latency: per route, 200 untimed requests, then `BENCH_REQUESTS` sequential
//! requests over one keep-alive connection (reqwest), each timed from send to
//! the last body byte. Every answer must carry the route's expected status.

mod common;

use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};

use common::{Serve, percentile, round2, sorted};

const QUIET_TENANT: &str = "bench-quiet";

struct Route {
    name: &'static str,
    method: Method,
    path: String,
    auth: Auth,
    /// A fresh policy event body per request.
    post_event: bool,
    expect: u16,
    wrk: bool,
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    Owner,
    AdminKey,
}

fn policy_event(id: &str, tenant: &str, decision: &str) -> Value {
    json!({
        "event_id": id, "tenant_id": tenant, "decision": decision, "action": "ec2.terminate",
        "resource_id": "i-0abc", "summary": "warm latency bench", "severity": "high",
    })
}

fn request(http: &Client, serve: &Serve, method: Method, path: &str, auth: Auth) -> RequestBuilder {
    let req = http.request(method, format!("{}{path}", serve.base));
    match auth {
        Auth::None => req,
        Auth::Owner => req.bearer_auth(&serve.owner_token),
        Auth::AdminKey => req.header("x-admin-key", &serve.admin_key),
    }
}

async fn send_ok(req: RequestBuilder, expect: u16) -> Value {
    let res = req.send().await.expect("serve answers");
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expect, "unexpected answer: {body}");
    body
}

async fn seed(http: &Client, serve: &Serve) -> String {
    send_ok(
        request(
            http,
            serve,
            Method::POST,
            "/api/v1/admin/tenants",
            Auth::AdminKey,
        )
        .json(&json!({"id": QUIET_TENANT, "name": "Bench Quiet", "tier": "pro"})),
        201,
    )
    .await;
    for _ in 0..20 {
        send_ok(
            request(
                http,
                serve,
                Method::POST,
                "/api/v1/settings/notifications/acceptance-evidence/capture",
                Auth::Owner,
            ),
            200,
        )
        .await;
    }
    let id = valdrix_tests::unique("warm-read");
    let accepted = send_ok(
        request(
            http,
            serve,
            Method::POST,
            "/api/v1/policy/events",
            Auth::AdminKey,
        )
        .json(&policy_event(&id, "demo", "block")),
        202,
    )
    .await;
    assert_eq!(
        accepted["deliveries"].as_array().map(Vec::len),
        Some(5),
        "the sandbox gives the demo tenant five targets: {accepted}"
    );
    // Wait for the in-process dispatch so the reads see finished deliveries.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = send_ok(
            request(
                http,
                serve,
                Method::GET,
                &format!("/api/v1/policy/events/{id}"),
                Auth::AdminKey,
            ),
            200,
        )
        .await;
        let delivered = state["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "delivered")
            .count();
        if delivered == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries not done: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    id
}

/// Sequential latencies in ms.
async fn measure(http: &Client, serve: &Serve, route: &Route, n: usize, run: &str) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut req = request(http, serve, route.method.clone(), &route.path, route.auth);
        if route.post_event {
            req = req.json(&policy_event(&format!("{run}-{i}"), QUIET_TENANT, "block"));
        }
        let started = Instant::now();
        let res = req.send().await.expect("serve answers");
        let status = res.status().as_u16();
        let body = res.bytes().await.expect("body");
        out.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            status,
            route.expect,
            "{}: {}",
            route.name,
            String::from_utf8_lossy(&body)
        );
    }
    out
}

/// A wrk Lua script posting a policy event with a new id per request.
fn wrk_post_script(dir: &std::path::Path, admin_key: &str) -> std::path::PathBuf {
    let run = valdrix_tests::unique("wrk");
    let script = format!(
        r#"local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local body = string.format('{{"event_id":"{run}-%d-%d","tenant_id":"{QUIET_TENANT}","decision":"block","action":"ec2.terminate","resource_id":"i-0abc","summary":"wrk","severity":"high"}}', tid, counter)
  return wrk.format("POST", "/api/v1/policy/events", {{["content-type"] = "application/json", ["x-admin-key"] = "{admin_key}"}}, body)
end
"#
    );
    let path = dir.join("post-policy-event.lua");
    std::fs::write(&path, script).unwrap();
    path
}

/// `wrk` output → (requests/s, p50, p99, non-2xx/3xx, socket errors line).
fn parse_wrk(out: &str) -> Value {
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    json!({
        "requests_per_second": field("Requests/sec:").and_then(|v| v.parse::<f64>().ok()),
        "p50": field("50%"),
        "p99": field("99%"),
        "non_2xx_3xx": field("Non-2xx or 3xx responses:").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        "socket_errors": field("Socket errors:"),
        "total": out.lines().find(|l| l.contains("requests in")).map(str::trim),
    })
}

fn wrk(serve: &Serve, route: &Route, seconds: u64, script_dir: &std::path::Path) -> Value {
    let mut cmd = std::process::Command::new("wrk");
    cmd.args(["-t2", "-c16", "--latency"])
        .arg(format!("-d{seconds}s"));
    match route.auth {
        Auth::None => {}
        Auth::Owner => {
            cmd.arg("-H")
                .arg(format!("Authorization: Bearer {}", serve.owner_token));
        }
        Auth::AdminKey => {
            cmd.arg("-H")
                .arg(format!("X-Admin-Key: {}", serve.admin_key));
        }
    }
    if route.post_event {
        cmd.arg("-s")
            .arg(wrk_post_script(script_dir, &serve.admin_key));
    }
    cmd.arg(format!("{}{}", serve.base, route.path));
    let out = cmd
        .output()
        .expect("run wrk (infra/bench-all installs it: apt-get install wrk)");
    assert!(
        out.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parsed = parse_wrk(&text);
    parsed["route"] = route.name.into();
    parsed
}

#[tokio::main]
async fn main() {
    let n: usize = common::env_or("BENCH_REQUESTS", 10_000);
    let wrk_seconds: u64 = common::env_or("BENCH_WRK_SECONDS", 15);
    let work = common::temp_dir("bench-warm");
    let serve = Serve::start(&work.path().join("serve"), true, &[]);
    let http = Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let read_id = seed(&http, &serve).await;

    let route = |name, method, path: &str, auth, expect, wrk| Route {
        name,
        method,
        path: path.to_owned(),
        auth,
        post_event: false,
        expect,
        wrk,
    };
    let routes = [
        route("GET /health", Method::GET, "/health", Auth::None, 200, true),
        route(
            "GET /api/v1/me (owner JWT)",
            Method::GET,
            "/api/v1/me",
            Auth::Owner,
            200,
            false,
        ),
        route(
            "GET /api/v1/settings/notifications (owner JWT)",
            Method::GET,
            "/api/v1/settings/notifications",
            Auth::Owner,
            200,
            true,
        ),
        route(
            "GET …/acceptance-evidence (list, default limit 50)",
            Method::GET,
            "/api/v1/settings/notifications/acceptance-evidence",
            Auth::Owner,
            200,
            true,
        ),
        Route {
            post_event: true,
            ..route(
                "POST /api/v1/policy/events (admin key, new id each)",
                Method::POST,
                "/api/v1/policy/events",
                Auth::AdminKey,
                202,
                true,
            )
        },
        route(
            "GET /api/v1/policy/events/{id} (owner JWT, 5 deliveries)",
            Method::GET,
            &format!("/api/v1/policy/events/{read_id}"),
            Auth::Owner,
            200,
            false,
        ),
    ];

    let load_before = common::load_average();
    let run = valdrix_tests::unique("warm");
    let mut latency = Vec::new();
    println!("| route | p50 | p99 | max | mean | sequential req/s |");
    println!("|---|---|---|---|---|---|");
    for r in &routes {
        measure(&http, &serve, r, 200, &format!("{run}-warmup")).await;
        let started = Instant::now();
        let samples = measure(&http, &serve, r, n, &run).await;
        let wall = started.elapsed().as_secs_f64();
        let s = sorted(&samples);
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} |",
            r.name,
            percentile(&s, 50.0),
            percentile(&s, 99.0),
            s.last().unwrap(),
            mean,
            n as f64 / wall
        );
        latency.push(json!({
            "route": r.name, "requests": n,
            "p50_ms": round2(percentile(&s, 50.0)), "p99_ms": round2(percentile(&s, 99.0)),
            "max_ms": round2(*s.last().unwrap()), "mean_ms": round2(mean),
            "sequential_rps": (n as f64 / wall).round(),
        }));
    }
    let serve_hwm = common::vm_hwm_kib(serve.pid()).unwrap_or(0);

    let mut throughput = Vec::new();
    println!(
        "wrk -t2 -c16 -d{wrk_seconds}s --latency (client and server share the machine's {} CPUs)",
        common::cpus()
    );
    println!("| route | requests/s | p50 | p99 | non-2xx/3xx |");
    println!("|---|---|---|---|---|");
    for r in routes.iter().filter(|r| r.wrk) {
        let w = wrk(&serve, r, wrk_seconds, work.path());
        println!(
            "| {} | {} | {} | {} | {} |",
            r.name,
            w["requests_per_second"],
            w["p50"].as_str().unwrap_or("?"),
            w["p99"].as_str().unwrap_or("?"),
            w["non_2xx_3xx"]
        );
        throughput.push(w);
    }
    let load_after = common::load_average();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "requests_per_route": n,
            "load_before": load_before,
            "load_after": load_after,
            "serve_peak_rss_mib_after_latency_runs": common::mib(serve_hwm),
            "latency": latency,
            "wrk": throughput,
        }))
        .unwrap()
    );
    drop(serve);
}
