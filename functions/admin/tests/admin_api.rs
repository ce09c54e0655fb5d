//! The admin function end to end over its router, fed from events/, on both
//! store backends.

use serde_json::json;
use valdrix_shared::http::layers;
use valdrix_shared::store::DynStore;
use valdrix_tests::{ADMIN_API_KEY, call, event_request, state_with, user_token};

const KEY: &str = "REPLACE_WITH_ADMIN_API_KEY";

fn app(store: DynStore) -> (axum::Router, valdrix_shared::state::SharedState) {
    let state = state_with(store);
    (layers(admin::router(state.clone()), &state.config), state)
}

/// An admin event with a unique tenant id in place of `acme`.
fn admin_event(name: &str, tenant: &str) -> lambda_http::Request {
    event_request(name, &[(KEY, ADMIN_API_KEY), ("acme", tenant)])
}

async fn provisioning_flow(store: DynStore) {
    let (app, state) = app(store);
    let tenant = valdrix_tests::unique("acme");

    let (status, _, body) = call(&app, admin_event("admin-create-tenant", &tenant)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"id": tenant, "name": "Acme Corp", "tier": "pro", "created_at": body["created_at"]})
    );
    let (status, _, body) = call(&app, admin_event("admin-create-tenant", &tenant)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["status"], 409);

    let (status, _, body) = call(&app, admin_event("admin-get-tenant", &tenant)).await;
    assert_eq!((status, body["tier"].clone()), (200, json!("pro")));
    let (status, _, _) = call(&app, admin_event("admin-get-tenant", "nobody-here")).await;
    assert_eq!(status, 404);

    let (status, _, body) = call(&app, admin_event("admin-set-tier", &tenant)).await;
    assert_eq!((status, body["tier"].clone()), (200, json!("enterprise")));

    let (status, _, body) = call(&app, admin_event("admin-put-member", &tenant)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "owner");

    // The member's token now resolves to this tenant.
    let token = user_token("user-123", "owner@acme.example");
    let (status, _, me) = call(
        &app,
        event_request("me-get", &[("REPLACE_WITH_TOKEN", &token)]),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        json!({"user_id": "user-123", "email": "owner@acme.example", "tenant_id": tenant, "role": "owner", "tier": "enterprise"})
    );

    // A user belongs to one tenant: moving them elsewhere is refused.
    let other = valdrix_tests::unique("globex");
    call(&app, admin_event("admin-create-tenant", &other)).await;
    let (status, _, body) = call(&app, admin_event("admin-put-member", &other)).await;
    assert_eq!(status, 409, "{body}");

    let (status, _, _) = call(&app, admin_event("admin-delete-member", &tenant)).await;
    assert_eq!(status, 204);
    let (status, _, _) = call(&app, admin_event("admin-delete-member", &tenant)).await;
    assert_eq!(status, 404);
    let (status, _, body) = call(
        &app,
        event_request("me-get", &[("REPLACE_WITH_TOKEN", &token)]),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["detail"], "tenant onboarding required");

    // Every change is in the tenant's audit chain, which verifies.
    let verification = serde_json::to_value(state.audit.verify(&tenant).await.unwrap()).unwrap();
    assert_eq!(verification["ok"], true);
    assert_eq!(
        verification["events_checked"], 4,
        "created, tier, member added, member removed"
    );
    let (events, _) = state.audit.page(&tenant, 10, None, false).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "tenant.created",
            "tenant.tier_changed",
            "member.added",
            "member.removed"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor == valdrix_shared::audit::Actor::AdminKey)
    );
}

async fn bad_input_is_refused_and_changes_nothing(store: DynStore) {
    let (app, state) = app(store);
    let tenant = valdrix_tests::unique("acme");
    let bad_bodies = [
        (
            json!({"id": tenant, "name": "Acme", "tier": "platinum"}),
            "tier",
        ),
        (
            json!({"id": tenant, "name": "Acme", "tier": "pro", "plan": "x"}),
            "plan",
        ),
        (
            json!({"id": "Bad Id!", "name": "Acme", "tier": "pro"}),
            "id",
        ),
        (json!({"id": tenant, "name": "  ", "tier": "pro"}), "name"),
    ];
    for (body, field) in bad_bodies {
        let mut req = admin_event("admin-create-tenant", &tenant);
        *req.body_mut() = lambda_http::Body::Text(body.to_string());
        let (status, headers, problem) = call(&app, req).await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert_eq!(headers["content-type"], "application/problem+json");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{field} not named: {problem}");
    }
    let (status, _, _) = call(&app, admin_event("admin-get-tenant", &tenant)).await;
    assert_eq!(status, 404, "nothing was created");
    assert!(
        state.audit.head(&tenant).await.unwrap().is_none(),
        "nothing was audited"
    );
}

async fn admin_routes_need_the_admin_key(store: DynStore) {
    let (app, _) = app(store);
    let tenant = valdrix_tests::unique("acme");
    for key in [
        "",
        "wrong-key-wrong-key-wrong-key-wrong",
        &ADMIN_API_KEY[..31],
    ] {
        let (status, headers, body) = call(
            &app,
            event_request("admin-create-tenant", &[(KEY, key), ("acme", &tenant)]),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(!format!("{body}{headers:?}").contains(ADMIN_API_KEY));
    }
    // A user token is not an admin key.
    let mut req = admin_event("admin-get-tenant", &tenant);
    req.headers_mut().remove("x-admin-key");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", user_token("u1", "u1@x.io"))
            .parse()
            .unwrap(),
    );
    assert_eq!(call(&app, req).await.0, 401);
}

async fn me_answers_each_role_with_its_own_tenant_only(store: DynStore) {
    let (app, _) = app(store);
    let (a, b) = (
        valdrix_tests::unique("tenant-a"),
        valdrix_tests::unique("tenant-b"),
    );
    for t in [&a, &b] {
        call(&app, admin_event("admin-create-tenant", t)).await;
    }
    let users = [
        ("a-owner", &a, "owner"),
        ("a-admin", &a, "admin"),
        ("a-member", &a, "member"),
        ("b-owner", &b, "owner"),
    ];
    for (user, tenant, role) in users {
        let mut req = event_request(
            "admin-put-member",
            &[(KEY, ADMIN_API_KEY), ("acme", tenant), ("user-123", user)],
        );
        *req.body_mut() = lambda_http::Body::Text(
            json!({"role": role, "email": format!("{user}@x.io")}).to_string(),
        );
        assert_eq!(call(&app, req).await.0, 200);
    }
    for (user, tenant, role) in users {
        let token = user_token(user, &format!("{user}@x.io"));
        let (status, _, me) = call(
            &app,
            event_request("me-get", &[("REPLACE_WITH_TOKEN", &token)]),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            (
                me["tenant_id"].as_str().unwrap(),
                me["role"].as_str().unwrap()
            ),
            (tenant.as_str(), role)
        );
        let other = if tenant == &a { &b } else { &a };
        assert!(
            !me.to_string().contains(other.as_str()),
            "another tenant's data leaked"
        );
    }
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::sqlite_store().await).await } )* }
        mod dynamo { $( #[tokio::test] async fn $case() { super::$case(valdrix_tests::dynamo_store().await).await } )* }
    };
}

on_both_backends!(
    provisioning_flow,
    bad_input_is_refused_and_changes_nothing,
    admin_routes_need_the_admin_key,
    me_answers_each_role_with_its_own_tenant_only,
);
