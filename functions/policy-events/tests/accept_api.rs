//! Accepting and reading policy events over the router, on both backends.

use http::Method;
use serde_json::{Value, json};
use valdrix_shared::audit::Actor;
use valdrix_shared::http::layers;
use valdrix_shared::settings::{self, NotificationSettings, SettingsUpdate};
use valdrix_shared::state::SharedState;
use valdrix_shared::store::DynStore;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{ADMIN_API_KEY, call, state_with, unique, user_token};

struct Fixture {
    app: axum::Router,
    state: SharedState,
    tenant: String,
}

/// A tenant on `tier` with Slack, Jira and a webhook configured.
async fn fixture(store: DynStore, tier: Tier, extra: Value) -> Fixture {
    let state = state_with(store);
    let tenant = unique("t");
    let ctx = ChangeContext {
        actor: Actor::System,
        request_id: None,
    };
    tenancy::create_tenant(
        &state.audit,
        Some(tenant.clone()),
        "T",
        Tier::Enterprise,
        &ctx,
    )
    .await
    .unwrap();
    let mut body = json!({
        "slack_channel_override": "#alerts",
        "jira_enabled": true, "jira_base_url": "https://acme.atlassian.net", "jira_email": "ops@acme.io",
        "jira_project_key": "OPS", "jira_api_token": "jira-token-123456",
        "workflow_webhook_enabled": true, "workflow_webhook_url": "https://hooks.acme.io/valdrix",
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let update: SettingsUpdate = serde_json::from_value(body).unwrap();
    let applied = settings::apply(
        &NotificationSettings::default(),
        update,
        Tier::Enterprise,
        &tenant,
        &state.keys,
        Default::default(),
    )
    .unwrap();
    settings::save(&state.audit, &tenant, &applied, 0, &ctx)
        .await
        .unwrap();
    if tier != Tier::Enterprise {
        tenancy::set_tier(state.store.as_ref(), &state.audit, &tenant, tier, &ctx)
            .await
            .unwrap();
    }
    for (user, role) in [("owner", Role::Owner), ("member", Role::Member)] {
        tenancy::put_member(
            state.store.as_ref(),
            &state.audit,
            &tenant,
            &format!("{tenant}-{user}"),
            role,
            "u@t.io",
            &ctx,
        )
        .await
        .unwrap();
    }
    let app = layers(policy_events::router(state.clone()), &state.config);
    Fixture { app, state, tenant }
}

fn event(tenant: &str, id: &str, decision: &str) -> Value {
    json!({"event_id": id, "tenant_id": tenant, "decision": decision, "action": "ec2.terminate",
        "resource_id": "i-0abc", "summary": "Unapproved instance size", "severity": "high",
        "evidence_links": {"dashboard": "https://app.valdrix.io/ops"}})
}

async fn post(f: &Fixture, body: &Value, key: &str) -> (u16, Value) {
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/policy/events")
        .header("content-type", "application/json")
        .header("x-admin-key", key)
        .body(lambda_http::Body::Text(body.to_string()))
        .unwrap();
    let (status, _, body) = call(&f.app, req).await;
    (status, body)
}

async fn get(f: &Fixture, id: &str, auth: (&str, String)) -> (u16, Value) {
    let req = http::Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1/policy/events/{id}"))
        .header(auth.0, auth.1)
        .body(lambda_http::Body::Empty)
        .unwrap();
    let (status, _, body) = call(&f.app, req).await;
    (status, body)
}

fn channels(body: &Value) -> Vec<String> {
    body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["channel"].as_str().unwrap().to_owned())
        .collect()
}

async fn block_is_accepted_once_with_one_pending_delivery_per_target(store: DynStore) {
    let f = fixture(store, Tier::Pro, json!({})).await;
    let id = unique("evt");
    let (status, body) = post(&f, &event(&f.tenant, &id, "block"), ADMIN_API_KEY).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(channels(&body), ["slack", "jira", "webhook"]);
    for d in body["deliveries"].as_array().unwrap() {
        assert_eq!(d["status"], "pending");
        assert_eq!(
            d["delivery_id"],
            format!("{id}:{}", d["channel"].as_str().unwrap())
        );
    }
    assert_eq!(body["deliveries"][0]["target"], "#alerts");
    assert_eq!(body["deliveries"][1]["target"], "OPS @ acme.atlassian.net");

    // The same event again: its current state, nothing new written.
    let head = f.state.audit.head(&f.tenant).await.unwrap();
    let (status, again) = post(&f, &event(&f.tenant, &id, "block"), ADMIN_API_KEY).await;
    assert_eq!(status, 200);
    assert_eq!(channels(&again), channels(&body));
    assert_eq!(f.state.audit.head(&f.tenant).await.unwrap(), head);

    // The same id with another body is a conflict.
    let mut changed = event(&f.tenant, &id, "block");
    changed["summary"] = json!("something else");
    assert_eq!(post(&f, &changed, ADMIN_API_KEY).await.0, 409);

    let (events, _) = f
        .state
        .audit
        .page(&f.tenant, 100, None, true)
        .await
        .unwrap();
    assert_eq!(events[0].event_type, "policy.accepted");
    assert_eq!(
        events[0].details["channels"],
        json!(["slack", "jira", "webhook"])
    );
}

async fn target_rules_follow_decision_tier_and_opt_in(store: DynStore) {
    let f = fixture(store.clone(), Tier::Pro, json!({})).await;
    let (status, body) = post(&f, &event(&f.tenant, &unique("evt"), "warn"), ADMIN_API_KEY).await;
    assert_eq!(
        (status, channels(&body)),
        (202, Vec::<String>::new()),
        "warn goes nowhere without the opt-in"
    );

    let opted = fixture(
        store.clone(),
        Tier::Pro,
        json!({"workflow_notify_on_warn_allow": true}),
    )
    .await;
    let (_, body) = post(
        &opted,
        &event(&opted.tenant, &unique("evt"), "allow"),
        ADMIN_API_KEY,
    )
    .await;
    assert_eq!(
        channels(&body),
        ["webhook"],
        "allow reaches the workflow targets only"
    );

    let starter = fixture(store, Tier::Starter, json!({})).await;
    let (_, body) = post(
        &starter,
        &event(&starter.tenant, &unique("evt"), "escalate"),
        ADMIN_API_KEY,
    )
    .await;
    assert_eq!(channels(&body), ["slack"], "Jira and workflows need pro");
}

async fn bad_requests_change_nothing(store: DynStore) {
    let f = fixture(store, Tier::Pro, json!({})).await;
    let head = f.state.audit.head(&f.tenant).await.unwrap();
    assert_eq!(
        post(
            &f,
            &event(&f.tenant, "e1", "block"),
            "wrong-key-wrong-key-wrong-key-wrong"
        )
        .await
        .0,
        401
    );
    assert_eq!(
        post(
            &f,
            &event("no-such-tenant", &unique("evt"), "block"),
            ADMIN_API_KEY
        )
        .await
        .0,
        404
    );
    let cases = [
        ("decision", json!("deny")),
        ("event_id", json!("has spaces")),
        ("summary", json!("")),
        ("severity", json!("urgent")),
        (
            "evidence_links",
            json!({"x": "http://169.254.169.254/latest"}),
        ),
    ];
    for (field, value) in cases {
        let mut body = event(&f.tenant, &unique("evt"), "block");
        body[field] = value;
        let (status, problem) = post(&f, &body, ADMIN_API_KEY).await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert!(
            problem["errors"].to_string().contains(field),
            "{field} not named: {problem}"
        );
    }
    let mut extra = event(&f.tenant, &unique("evt"), "block");
    extra["colour"] = json!("red");
    assert_eq!(post(&f, &extra, ADMIN_API_KEY).await.0, 422);
    assert_eq!(f.state.audit.head(&f.tenant).await.unwrap(), head);
}

async fn reading_is_for_the_operator_or_the_tenants_admins(store: DynStore) {
    let f = fixture(store.clone(), Tier::Pro, json!({})).await;
    let id = unique("evt");
    post(&f, &event(&f.tenant, &id, "block"), ADMIN_API_KEY).await;
    let (status, body) = get(&f, &id, ("x-admin-key", ADMIN_API_KEY.into())).await;
    assert_eq!((status, body["event_id"].clone()), (200, json!(id)));
    let owner = format!(
        "Bearer {}",
        user_token(&format!("{}-owner", f.tenant), "u@t.io")
    );
    assert_eq!(get(&f, &id, ("authorization", owner)).await.0, 200);
    let member = format!(
        "Bearer {}",
        user_token(&format!("{}-member", f.tenant), "u@t.io")
    );
    assert_eq!(get(&f, &id, ("authorization", member)).await.0, 403);
    // The owner of another tenant sees nothing, not even that it exists.
    let other = fixture(store, Tier::Pro, json!({})).await;
    let stranger = format!(
        "Bearer {}",
        user_token(&format!("{}-owner", other.tenant), "u@t.io")
    );
    let (status, body) = get(&other, &id, ("authorization", stranger)).await;
    assert_eq!(status, 404);
    assert!(!body.to_string().contains("ec2.terminate"));
    assert_eq!(
        get(&f, "never-sent", ("x-admin-key", ADMIN_API_KEY.into()))
            .await
            .0,
        404
    );
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::sqlite_store().await).await } )* }
        mod dynamo { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::dynamo_store().await).await } )* }
    };
}

on_both_backends!(
    block_is_accepted_once_with_one_pending_delivery_per_target,
    target_rules_follow_decision_tier_and_opt_in,
    bad_requests_change_nothing,
    reading_is_for_the_operator_or_the_tenants_admins,
);
