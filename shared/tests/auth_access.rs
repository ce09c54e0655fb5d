//! The extractors end to end over a router: membership → tenant → role and
//! tier, the admin key, and what the logs may and may not contain.

mod http_common;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_common::{ADMIN_KEY, FixtureStore, JWT_SECRET, config, config_with, send, state};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use valdrix_shared::auth::{
    AdminKey, AdminOrOwner, CurrentUser, Owner, check_admin_key, require_role, require_tier,
    resolve_user,
};
use valdrix_shared::http::{ApiError, ApiJson, layers};
use valdrix_shared::state::SharedState;
use valdrix_shared::tenancy::{self, Role, Tier};

const TENANT_A: &str = "7d0c1f4e-0000-4000-8000-00000000000a";
const TENANT_B: &str = "7d0c1f4e-0000-4000-8000-00000000000b";

fn token(sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "aud": "authenticated", "exp": now + 600, "email": format!("{sub}@token.example")});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

fn membership(user: &str, tenant: &str, role: &str) -> Value {
    json!({"pk": format!("USER#{user}"), "sk": "MEMBERSHIP", "tenant_id": tenant, "role": role, "email": format!("{user}@stored.example")})
}

fn tenant(id: &str, tier: &str) -> Value {
    json!({"pk": format!("TENANT#{id}"), "sk": "META", "id": id, "name": format!("Tenant {id}"), "tier": tier, "created_at": "2026-01-01T00:00:00Z", "version": 3})
}

/// Tenant A (pro) with a member, an admin and an owner; tenant B (free) with
/// its owner; a user whose tenant is gone; a corrupt membership.
fn store() -> FixtureStore {
    FixtureStore::default()
        .with(tenant(TENANT_A, "pro"))
        .with(tenant(TENANT_B, "free"))
        .with(membership("mia", TENANT_A, "member"))
        .with(membership("ada", TENANT_A, "admin"))
        .with(membership("oli", TENANT_A, "owner"))
        .with(membership("bob", TENANT_B, "owner"))
        .with(membership("orphan", "deleted-tenant", "owner"))
        .with(membership("weird", TENANT_A, "superuser"))
}

fn user_json(u: &CurrentUser) -> Value {
    json!({"user_id": u.user_id, "email": u.email, "tenant_id": u.tenant_id, "role": u.role, "tier": u.tier})
}

fn app(state: SharedState) -> Router {
    let router = Router::new()
        .route(
            "/me",
            get(|u: CurrentUser| async move { ApiJson(user_json(&u)) }),
        )
        .route(
            "/admin-area",
            get(|u: AdminOrOwner| async move { ApiJson(user_json(&u)) }),
        )
        .route(
            "/owner-area",
            get(|u: Owner| async move { ApiJson(user_json(&u.0)) }),
        )
        .route(
            "/compliance",
            get(|u: CurrentUser| async move {
                require_tier(&u, Tier::Pro, "compliance_exports").map(|()| "ok")
            }),
        )
        .route("/ops", get(|_: AdminKey| async { "ops" }));
    layers(router, &state.config).with_state(state)
}

fn get_as(path: &str, sub: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {}", token(sub)))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn each_role_resolves_to_its_own_tenant_and_tier() {
    let app = app(state(config(), store()).await);
    for (sub, role, tenant, tier) in [
        ("mia", "member", TENANT_A, "pro"),
        ("ada", "admin", TENANT_A, "pro"),
        ("oli", "owner", TENANT_A, "pro"),
        ("bob", "owner", TENANT_B, "free"),
    ] {
        let reply = send(&app, get_as("/me", sub)).await;
        assert_eq!(reply.status, 200, "{sub}: {}", reply.text());
        assert_eq!(
            reply.json(),
            json!({"user_id": sub, "email": format!("{sub}@token.example"), "tenant_id": tenant, "role": role, "tier": tier})
        );
    }
}

#[tokio::test]
async fn the_tenant_comes_from_the_membership_not_the_request() {
    let app = app(state(config(), store()).await);
    let mut req = get_as("/me", "bob");
    req.headers_mut()
        .insert("x-tenant-id", TENANT_A.parse().unwrap());
    let reply = send(&app, req).await;
    assert_eq!(reply.json()["tenant_id"], TENANT_B);
}

#[tokio::test]
async fn role_extractors_name_the_required_and_actual_role() {
    let app = app(state(config(), store()).await);
    let cases = [
        (
            "/admin-area",
            "mia",
            Some("requires role admin or owner (you are member)"),
        ),
        ("/admin-area", "ada", None),
        ("/admin-area", "oli", None),
        (
            "/owner-area",
            "mia",
            Some("requires role owner (you are member)"),
        ),
        (
            "/owner-area",
            "ada",
            Some("requires role owner (you are admin)"),
        ),
        ("/owner-area", "oli", None),
    ];
    for (path, sub, denied) in cases {
        let reply = send(&app, get_as(path, sub)).await;
        match denied {
            Some(detail) => assert_eq!(reply.problem(403)["detail"], detail, "{path} {sub}"),
            None => assert_eq!(reply.status, 200, "{path} {sub}: {}", reply.text()),
        }
    }
}

#[tokio::test]
async fn tier_gate_names_feature_required_and_current_tier() {
    let app = app(state(config(), store()).await);
    assert_eq!(send(&app, get_as("/compliance", "mia")).await.status, 200);
    let body = send(&app, get_as("/compliance", "bob")).await.problem(403);
    assert_eq!(
        body["detail"],
        "feature 'compliance_exports' requires the pro tier or higher (current tier: free)"
    );
}

#[tokio::test]
async fn no_membership_or_a_missing_tenant_means_onboarding() {
    let app = app(state(config(), store()).await);
    for sub in ["stranger", "orphan"] {
        let body = send(&app, get_as("/me", sub)).await.problem(403);
        assert_eq!(body["detail"], "tenant onboarding required", "{sub}");
    }
}

#[tokio::test]
async fn token_problems_are_401_before_the_store_is_asked() {
    // The store is down: a 401 proves the token was judged first.
    let down = FixtureStore::down();
    let app = app(state(config(), down).await);
    let reply = send(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.problem(401)["detail"], "missing bearer token");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));

    let req = Request::get("/owner-area")
        .header("authorization", "Bearer not.a.jwt")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, req).await.problem(401)["detail"],
        "invalid token"
    );

    let req = Request::get("/me")
        .header(
            "authorization",
            http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, req).await.problem(401)["detail"],
        "invalid token"
    );
}

#[tokio::test]
async fn a_store_outage_is_503_without_its_cause() {
    let down = FixtureStore::down();
    let reply = send(&app(state(config(), down).await), get_as("/me", "mia")).await;
    assert_eq!(reply.problem(503)["detail"], "store unavailable");
    assert!(
        !reply.text().contains("127.0.0.1"),
        "the cause leaked: {}",
        reply.text()
    );
}

#[tokio::test]
async fn a_corrupt_membership_is_a_500_not_access() {
    let reply = send(&app(state(config(), store()).await), get_as("/me", "weird")).await;
    assert_eq!(reply.problem(500)["detail"], "internal error");
}

#[tokio::test]
async fn resolve_user_works_without_a_router() {
    let store = store().build().await;
    let store = store.as_ref();
    let cfg = config();
    let header = format!("Bearer {}", token("ada"));
    let user = resolve_user(store, &cfg, Some(&header)).await.unwrap();
    assert_eq!((user.role, user.tier), (Role::Admin, Tier::Pro));
    assert!(matches!(
        resolve_user(store, &cfg, None).await,
        Err(ApiError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn lookups_read_the_documented_layout() {
    let store = store().build().await;
    let store = store.as_ref();
    let m = tenancy::get_membership(store, "ada")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.user_id.as_str(), m.tenant_id.as_str(), m.role),
        ("ada", TENANT_A, Role::Admin)
    );
    assert_eq!(m.email, "ada@stored.example");
    assert!(
        tenancy::get_membership(store, "nobody")
            .await
            .unwrap()
            .is_none()
    );

    let t = tenancy::get_tenant(store, TENANT_B).await.unwrap().unwrap();
    assert_eq!((t.id.as_str(), t.tier), (TENANT_B, Tier::Free));
    assert!(tenancy::get_tenant(store, "nope").await.unwrap().is_none());

    // A META item naming another tenant is corrupt, never silently used.
    let mut mislabelled = tenant(TENANT_A, "pro");
    mislabelled["pk"] = json!(format!("TENANT#{TENANT_B}"));
    let store = FixtureStore::default().with(mislabelled).build().await;
    assert!(tenancy::get_tenant(store.as_ref(), TENANT_B).await.is_err());
}

#[test]
fn role_and_tier_gates_follow_the_order() {
    let user = |role, tier| CurrentUser {
        user_id: "u".into(),
        email: "u@example.com".into(),
        tenant_id: "t".into(),
        role,
        tier,
    };
    assert!(require_role(&user(Role::Owner, Tier::Free), Role::Admin).is_ok());
    assert!(require_role(&user(Role::Member, Tier::Free), Role::Member).is_ok());
    assert!(require_role(&user(Role::Admin, Tier::Free), Role::Owner).is_err());
    assert!(require_tier(&user(Role::Member, Tier::Enterprise), Tier::Pro, "x").is_ok());
    assert!(require_tier(&user(Role::Owner, Tier::Growth), Tier::Pro, "x").is_err());
}

// ---- admin key ----

#[tokio::test]
async fn admin_key_must_match_exactly() {
    let app = app(state(config(), store()).await);
    let with_key = |key: &str| {
        Request::get("/ops")
            .header("x-admin-key", key)
            .body(Body::empty())
            .unwrap()
    };
    let ok = send(&app, with_key(ADMIN_KEY)).await;
    assert_eq!((ok.status.as_u16(), ok.text().as_str()), (200, "ops"));

    let almost = format!("{}X", &ADMIN_KEY[..ADMIN_KEY.len() - 1]);
    let longer = format!("{ADMIN_KEY}0");
    for key in [almost.as_str(), longer.as_str(), &ADMIN_KEY[..10], "x"] {
        let reply = send(&app, with_key(key)).await;
        assert_eq!(reply.problem(401)["detail"], "invalid admin key", "{key}");
        assert!(!reply.text().contains(ADMIN_KEY));
    }
    let reply = send(&app, Request::get("/ops").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.problem(401)["detail"], "missing admin key");
}

#[tokio::test]
async fn without_a_configured_key_admin_routes_stay_closed() {
    let cfg = config_with(&[("ADMIN_API_KEY", "")]);
    assert!(cfg.admin_api_key.is_none());
    assert!(check_admin_key(&cfg, Some(b"")).is_err());
    assert!(check_admin_key(&cfg, Some(ADMIN_KEY.as_bytes())).is_err());
    let app = app(state(cfg, store()).await);
    let req = Request::get("/ops")
        .header("x-admin-key", ADMIN_KEY)
        .body(Body::empty())
        .unwrap();
    send(&app, req).await.problem(401);
}
