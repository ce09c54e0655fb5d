//! Export jobs over the router: the gates, tenant isolation, one job per
//! tenant and parameter set (on the embedded store and DynamoDB Local), a
//! job's pack with no cap but the caller's, and 4xx problems on bad input.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::FromRef;
use serde_json::Value;
use sha2::{Digest, Sha256};
use valdrix_shared::audit::Actor;
use valdrix_shared::deadline::Deadline;
use valdrix_shared::exports::jobs::Step;
use valdrix_shared::exports::queue::{Enqueue, JobEvent, JobQueue, Worker};
use valdrix_shared::http::layers;
use valdrix_shared::ledger::ingest::ingest;
use valdrix_shared::state::{AppState, Core, PackLinks, SharedState};
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{
    call, dynamo_store, focus_csv, focus_line, local_signer, sqlite_store, test_config, unique,
    user_token,
};

const EXPORTS: &str = "/api/v1/audit/compliance-pack/exports";

/// Jobs handed to this queue wait until the test runs them.
#[derive(Default)]
struct Parked(Mutex<Vec<JobEvent>>);

#[async_trait]
impl Enqueue for Parked {
    async fn enqueue(&self, job: &JobEvent) -> Result<(), String> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

/// The app's state with a parked queue.
#[derive(Clone)]
struct Held {
    app: SharedState,
    parked: Arc<Parked>,
}

impl FromRef<Held> for Core {
    fn from_ref(s: &Held) -> Self {
        s.app.core()
    }
}

impl FromRef<Held> for PackLinks {
    fn from_ref(s: &Held) -> Self {
        PackLinks(
            s.app
                .objects
                .clone()
                .map(|o| o as valdrix_shared::objects::DynLinks),
        )
    }
}

impl FromRef<Held> for JobQueue {
    fn from_ref(s: &Held) -> Self {
        JobQueue(s.parked.clone())
    }
}

struct App {
    router: axum::Router,
    state: Held,
}

impl App {
    fn new(store: DynStore) -> Self {
        let config = Arc::new(test_config(&[]));
        let dir = std::env::temp_dir().join(unique("valdrix-packs"));
        let objects = compliance_export::local_object_store(&dir, &config);
        let mut app = AppState::with_objects(config, store, Some(objects));
        Arc::get_mut(&mut app).unwrap().audit_signer = Some(local_signer());
        let state = Held {
            app,
            parked: Arc::default(),
        };
        Self {
            router: layers(compliance_export::router(state.clone()), &state.app.config),
            state,
        }
    }

    /// Run every parked job to its end, each invocation unbounded.
    async fn run_parked(&self) {
        let jobs: Vec<JobEvent> = std::mem::take(&mut *self.state.parked.0.lock().unwrap());
        let s = &self.state.app;
        let worker = Worker {
            store: s.store.clone(),
            audit: s.audit.clone(),
            objects: s.objects.clone(),
            signer: s.audit_signer.clone(),
        };
        for job in jobs {
            while worker.run(&job, Deadline::unbounded()).await.unwrap() == Step::Again {}
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (u16, http::HeaderMap, Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "api.example.com")
            .header("authorization", format!("Bearer {token}"));
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        call(
            &self.router,
            request.body(lambda_http::Body::from(body)).unwrap(),
        )
        .await
    }

    async fn post(&self, token: &str, query: &str) -> (u16, http::HeaderMap, Value) {
        self.send("POST", &format!("{EXPORTS}?{query}"), token, "")
            .await
    }

    async fn job(&self, token: &str, id: &str) -> (u16, Value) {
        let (status, _, body) = self
            .send("GET", &format!("{EXPORTS}/{id}"), token, "")
            .await;
        (status, body)
    }

    /// Follow a local signed URL through the router.
    async fn download(&self, url: &str) -> Vec<u8> {
        let path = url
            .strip_prefix("http://api.example.com")
            .expect("absolute URL");
        let response = tower::ServiceExt::oneshot(
            self.router.clone(),
            http::Request::get(path)
                .header("host", "api.example.com")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }
}

struct Tenant {
    id: String,
    owner: String,
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
    let mut tokens = Vec::new();
    for role in [Role::Owner, Role::Member] {
        let sub = unique("user");
        let email = format!("{sub}@acme.example");
        tenancy::put_member(
            state.store.as_ref(),
            &state.audit,
            &id,
            &sub,
            role,
            &email,
            &ctx,
        )
        .await
        .unwrap();
        tokens.push(user_token(&sub, &email));
    }
    Tenant {
        id,
        owner: tokens[0].clone(),
        member: tokens[1].clone(),
    }
}

async fn seed(state: &SharedState, tenant: &str, rows: usize) {
    let lines: Vec<String> = (0..rows)
        .map(|i| {
            focus_line(
                &format!("{}.25", i + 1),
                &format!("2026-01-{:02}T10:00:00Z", i % 28 + 1),
                &format!("2026-01-{:02}T11:00:00Z", i % 28 + 1),
                "Amazon Elastic Compute Cloud",
                "Compute",
                &format!("i-{i:05}"),
                "",
                "final",
            )
        })
        .collect();
    // The ledger is cost-ingest's to write.
    let report = valdrix_tests::iam_guard::as_another_function(ingest(
        &state.store,
        &state.audit,
        tenant,
        "test.csv",
        std::io::Cursor::new(focus_csv(&lines).into_bytes()),
        Actor::System,
    ))
    .await
    .unwrap();
    assert_eq!(report.inserted as usize, rows, "{report:?}");
}

fn entries(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

const FOCUS: &str =
    "include_focus_export=true&focus_start_date=2026-01-01&focus_end_date=2026-01-31";

#[tokio::test]
async fn gates_isolation_and_problems() {
    let app = App::new(sqlite_store().await);
    let starter = tenant(&app.state.app, Tier::Starter).await;
    let t = tenant(&app.state.app, Tier::Pro).await;
    let other = tenant(&app.state.app, Tier::Pro).await;

    let (status, _, body) = app.post(&starter.owner, FOCUS).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("current tier: starter"),
        "{body}"
    );
    let (status, _, body) = app.post(&t.member, FOCUS).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = app.post("nope", FOCUS).await;
    assert_eq!(status, 401);

    // Bad input: a 4xx problem naming what is wrong, and no job.
    for (query, param) in [
        ("focus_max_rows=0", "focus_max_rows"),
        ("focus_max_rows=1000000000001", "focus_max_rows"),
        ("bogus=1", "bogus"),
        ("include_focus_export=maybe", "include_focus_export"),
    ] {
        let (status, headers, body) = app.post(&t.owner, query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["errors"][0]["field"], param, "{body}");
    }
    let (status, headers, _) = app
        .send("POST", &format!("{EXPORTS}?{FOCUS}"), &t.owner, "[1]")
        .await;
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(app.state.parked.0.lock().unwrap().is_empty());

    let (status, headers, job) = app.post(&t.owner, FOCUS).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("{EXPORTS}/{id}"));
    assert_eq!(job["state"], "queued");

    // Another tenant's owner, this tenant's member, a malformed id.
    assert_eq!(app.job(&other.owner, &id).await.0, 404);
    assert_eq!(app.job(&t.member, &id).await.0, 403);
    let (status, body) = app.job(&t.owner, "not-a-uuid").await;
    assert_eq!(status, 404, "{body}");

    app.run_parked().await;
    let (status, done) = app.job(&t.owner, &id).await;
    assert_eq!(status, 200);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1);
    let zip = app.download(done["url"].as_str().unwrap()).await;
    assert_eq!(done["bytes"], zip.len() as u64);
    assert_eq!(done["sha256"], hex::encode(Sha256::digest(&zip)));
    let files = entries(&zip);
    assert_eq!(
        done["manifest_sha256"],
        hex::encode(Sha256::digest(&files["manifest.json"]))
    );
    assert_eq!(app.job(&other.owner, &id).await.0, 404);

    // The request and its completion are on record, with the job's run.
    let run_id = done["run_id"].as_str().unwrap();
    let (events, _) = app
        .state
        .app
        .audit
        .page(&t.id, 100, None, true)
        .await
        .unwrap();
    let of_run: Vec<&str> = events
        .iter()
        .filter(|e| e.details["run_id"] == run_id)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(of_run, ["audit.export_completed", "audit.export_requested"]);
}

#[tokio::test]
async fn no_cap_but_the_callers_own_and_it_is_in_the_manifest() {
    let app = App::new(sqlite_store().await);
    let t = tenant(&app.state.app, Tier::Pro).await;
    seed(&app.state.app, &t.id, 3).await;
    let mut manifests = Vec::new();
    for query in [FOCUS.to_owned(), format!("{FOCUS}&focus_max_rows=2")] {
        let (status, _, job) = app.post(&t.owner, &query).await;
        assert_eq!(status, 202, "{job}");
        app.run_parked().await;
        let (_, done) = app.job(&t.owner, job["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let files = entries(&app.download(done["url"].as_str().unwrap()).await);
        manifests.push(serde_json::from_slice::<Value>(&files["manifest.json"]).unwrap());
    }
    assert_eq!(
        manifests[0]["options"]["focus_export"]["max_rows"],
        Value::Null
    );
    assert_eq!(manifests[0]["options"]["audit_max_rows"], Value::Null);
    assert_eq!(manifests[0]["row_counts"]["focus_export"], 3);
    assert_eq!(manifests[0]["truncated"]["focus_export"], false);
    assert_eq!(manifests[1]["options"]["focus_export"]["max_rows"], 2);
    assert_eq!(manifests[1]["row_counts"]["focus_export"], 2);
    assert_eq!(manifests[1]["truncated"]["focus_export"], true);
}

async fn one_job_per_tenant_and_parameters(store: DynStore) {
    let app = App::new(store);
    let t = tenant(&app.state.app, Tier::Pro).await;
    let other = tenant(&app.state.app, Tier::Pro).await;
    // Equal requests at once: one job. Equal options spelled otherwise too.
    let posts = (0..6).map(|i| {
        let query = match i % 2 {
            0 => FOCUS.to_owned(),
            _ => format!("include_savings_proof=false&{FOCUS}"),
        };
        let (app, token) = (&app, t.owner.clone());
        async move { app.post(&token, &query).await }
    });
    let answers = futures::future::join_all(posts).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, _, job)| {
            assert_eq!(*status, 202, "{job}");
            job["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.state.parked.0.lock().unwrap().len(), 1);
    let first = ids.into_iter().next().unwrap();

    // Other parameters, or another tenant: another job.
    let (_, _, narrower) = app
        .post(&t.owner, &format!("{FOCUS}&focus_max_rows=5"))
        .await;
    let (_, _, theirs) = app.post(&other.owner, FOCUS).await;
    assert_ne!(narrower["id"], first.as_str());
    assert_ne!(theirs["id"], first.as_str());

    // Once it has ended, the same request is a new job.
    app.run_parked().await;
    assert_eq!(app.job(&t.owner, &first).await.1["state"], "succeeded");
    let (status, _, again) = app.post(&t.owner, FOCUS).await;
    assert_eq!(status, 202);
    assert_ne!(again["id"], first.as_str());
    assert_eq!(again["state"], "queued");
}

#[tokio::test]
async fn one_job_per_tenant_and_parameters_embedded() {
    one_job_per_tenant_and_parameters(sqlite_store().await).await;
}

#[tokio::test]
async fn one_job_per_tenant_and_parameters_dynamodb() {
    one_job_per_tenant_and_parameters(dynamo_store().await).await;
}

#[tokio::test]
async fn a_job_runs_in_the_background_with_the_in_process_queue() {
    // SharedState's own queue: a task of this process (valdrix serve).
    let config = Arc::new(test_config(&[]));
    let dir = std::env::temp_dir().join(unique("valdrix-packs"));
    let objects = compliance_export::local_object_store(&dir, &config);
    let mut state = AppState::with_objects(config, sqlite_store().await, Some(objects));
    Arc::get_mut(&mut state).unwrap().audit_signer = Some(local_signer());
    let router = layers(compliance_export::router(state.clone()), &state.config);
    let t = tenant(&state, Tier::Pro).await;
    let request = |method: &str, uri: String| {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "api.example.com")
            .header("authorization", format!("Bearer {}", t.owner))
            .body(lambda_http::Body::Empty)
            .unwrap()
    };
    let (status, _, job) = call(&router, request("POST", format!("{EXPORTS}?{FOCUS}"))).await;
    assert_eq!(status, 202, "{job}");
    let uri = format!("{EXPORTS}/{}", job["id"].as_str().unwrap());
    for _ in 0..600 {
        let (_, _, now) = call(&router, request("GET", uri.clone())).await;
        if now["state"] == "succeeded" {
            return;
        }
        assert_ne!(now["state"], "failed", "{now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the job did not finish");
}
