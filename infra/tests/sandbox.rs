//! `valdrix serve --sandbox` on a fresh data dir: the demo tenant's test calls
//! all succeed against the fake receivers, which show what they received.

use serde_json::Value;
use valdrix_tests::serve::ServeProcess;

fn start(data_dir: &std::path::Path) -> ServeProcess {
    ServeProcess::start(env!("CARGO_BIN_EXE_valdrix"), data_dir, &["--sandbox"], &[])
}

async fn received(http: &reqwest::Client, server: &ServeProcess, receiver: &str) -> Vec<Value> {
    http.get(format!(
        "{}/_sandbox/received?receiver={receiver}",
        server.base
    ))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn sandbox_serves_every_test_call_and_shows_the_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join(".valdrix"));
    let http = reqwest::Client::new();

    let names: Vec<&str> = server.receivers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["slack", "jira", "github", "gitlab", "webhook"]);
    assert!(
        server
            .receivers
            .iter()
            .all(|(_, url)| url.starts_with("http://127.0.0.1:"))
    );
    assert_eq!(server.test_urls.len(), 3);

    let mut run_ids = Vec::new();
    for url in &server.test_urls {
        let res = http
            .post(url)
            .bearer_auth(server.token("owner"))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(body["status"], "success", "{body}");
        assert!(
            body["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["ok"] == true)
        );
        run_ids.push(body["run_id"].as_str().unwrap().to_owned());
    }

    let slack = received(&http, &server, "slack").await;
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(slack[0]["path"], "/api/chat.postMessage");
    assert_eq!(slack[0]["body"]["channel"], "#valdrix-sandbox");
    assert_eq!(slack[0]["headers"]["authorization"], "Bearer ***");

    let jira = received(&http, &server, "jira").await;
    assert_eq!(jira.len(), 1, "{jira:?}");
    assert_eq!(jira[0]["path"], "/rest/api/3/issue");
    assert_eq!(jira[0]["status"], 201);
    assert_eq!(jira[0]["body"]["fields"]["project"]["key"], "SBX");
    assert_eq!(jira[0]["headers"]["authorization"], "Basic ***");

    let github = received(&http, &server, "github").await;
    assert_eq!(github.len(), 1, "{github:?}");
    assert_eq!(
        github[0]["path"],
        "/repos/valdrix-demo/sandbox/actions/workflows/valdrix.yml/dispatches"
    );
    assert_eq!(github[0]["body"]["inputs"]["request_id"], run_ids[2]);

    let gitlab = received(&http, &server, "gitlab").await;
    assert_eq!(gitlab.len(), 1, "{gitlab:?}");
    assert_eq!(gitlab[0]["status"], 201);
    assert_eq!(gitlab[0]["body"]["token"], "***");

    let webhook = received(&http, &server, "webhook").await;
    assert_eq!(webhook.len(), 1, "{webhook:?}");
    assert_eq!(webhook[0]["signature"], "valid", "{webhook:?}");
    assert_eq!(webhook[0]["duplicate"], false);
    assert_eq!(webhook[0]["headers"]["webhook-id"], run_ids[2]);
    assert_eq!(webhook[0]["headers"]["authorization"], "Bearer ***");

    // Everything, newest last; no credential in it.
    let all: Vec<Value> = http
        .get(format!("{}/_sandbox/received", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let text = serde_json::to_string(&all).unwrap();
    for fake in [
        "xoxb-sandbox-",
        "sandbox-jira-api-token",
        "ghp_sandbox",
        "glptt-sandbox",
        "sandbox-webhook-bearer",
    ] {
        assert!(!text.contains(fake), "{fake} in {text}");
    }

    // A policy retry's lookup: Jira's search finds the issue by its delivery label.
    let label = jira[0]["body"]["fields"]["labels"]
        .as_array()
        .and_then(|l| l.last())
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    assert!(label.starts_with("valdrix-delivery-"), "{label}");
    let jira_url = &server.receivers[1].1;
    let search = |label: String| {
        http.post(format!("{jira_url}rest/api/3/search/jql"))
            .basic_auth("sandbox@valdrix.local", Some("any"))
            .json(&serde_json::json!({
                "jql": format!("project = \"SBX\" AND labels = \"{label}\""),
                "maxResults": 1, "fields": ["key"],
            }))
            .send()
    };
    let found: Value = search(label).await.unwrap().json().await.unwrap();
    assert!(jira[0]["issue_key"].as_str().unwrap().starts_with("SBX-"));
    assert_eq!(found["issues"][0]["key"], jira[0]["issue_key"], "{found}");
    let none: Value = search("valdrix-delivery-0".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["isLast"], true);
    assert_eq!(none["issues"], serde_json::json!([]), "{none}");
    drop(server);

    // A restart moves the receivers to new ports; the demo settings follow,
    // and the stored signing secret still verifies.
    let again = start(&dir.path().join(".valdrix"));
    let workflow = again
        .test_urls
        .iter()
        .find(|p| p.ends_with("test-workflow"))
        .unwrap();
    let res = http
        .post(workflow)
        .bearer_auth(again.token("owner"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let webhook = received(&http, &again, "webhook").await;
    assert_eq!(webhook.len(), 1);
    assert_eq!(webhook[0]["signature"], "valid");
}
