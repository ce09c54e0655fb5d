//! The shared HTTP stack: problem+json for every error, `ApiJson`, request
//! ids, CORS, body limit, 404/405 and panic containment.

mod http_common;

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::{Method, Request, StatusCode};
use http_common::{ORIGIN, Reply, config, send};
use serde::Deserialize;
use serde_json::json;
use valdrix_shared::http::{ApiError, ApiJson, BODY_LIMIT_BYTES, FieldError, RequestId, layers};
use valdrix_shared::store::StoreError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    channel: String,
    limit: u32,
    #[serde(default)]
    nested: Option<Nested>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nested {
    enabled: bool,
}

async fn echo(ApiJson(s): ApiJson<Settings>) -> ApiJson<serde_json::Value> {
    ApiJson(json!({
        "channel": s.channel,
        "limit": s.limit,
        "enabled": s.nested.map(|n| n.enabled),
    }))
}

async fn whoami(id: RequestId) -> String {
    id.0
}

#[derive(Deserialize)]
struct PageQuery {
    limit: u32,
}

async fn page(Query(q): Query<PageQuery>) -> String {
    q.limit.to_string()
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

async fn store_down() -> Result<(), ApiError> {
    Err(StoreError::Unavailable("connect timeout to dynamodb.internal".into()).into())
}

fn app() -> Router {
    let router = Router::new()
        .route("/settings", post(echo).put(echo))
        .route("/id", get(whoami))
        .route("/boom", get(boom))
        .route("/down", get(store_down))
        .route("/page", get(page))
        .route("/bare", get(|| async { StatusCode::CONFLICT }));
    layers(router, &config())
}

fn post_json(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut req = Request::post("/settings");
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.body(body.into()).unwrap()
}

async fn problem_of(err: ApiError) -> Reply {
    let response = err.into_response();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    }
}

// ---- ApiError → problem+json ----

#[tokio::test]
async fn every_variant_is_a_problem_with_its_status_and_detail() {
    let cases = [
        (ApiError::BadRequest("bad thing".into()), 400, "bad thing"),
        (
            ApiError::Unauthorized("invalid token".into()),
            401,
            "invalid token",
        ),
        (ApiError::Forbidden("nope".into()), 403, "nope"),
        (ApiError::NotFound("no settings".into()), 404, "no settings"),
        (ApiError::Conflict("version".into()), 409, "version"),
        (
            ApiError::UnsupportedMediaType("json please".into()),
            415,
            "json please",
        ),
        (
            ApiError::BadGateway("slack failed".into()),
            502,
            "slack failed",
        ),
        (
            ApiError::GatewayTimeout("slack slow".into()),
            504,
            "slack slow",
        ),
        (
            ApiError::Unavailable("store unavailable".into()),
            503,
            "store unavailable",
        ),
    ];
    for (err, status, detail) in cases {
        let body = problem_of(err).await.problem(status);
        assert_eq!(body["detail"], detail);
        assert!(body.get("errors").is_none(), "{body}");
    }
}

#[tokio::test]
async fn payload_too_large_names_the_limit() {
    let body = problem_of(ApiError::PayloadTooLarge).await.problem(413);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&BODY_LIMIT_BYTES.to_string())
    );
}

#[tokio::test]
async fn unprocessable_lists_field_errors() {
    let err = ApiError::Unprocessable {
        detail: "2 invalid fields".into(),
        errors: vec![
            FieldError::new("channel", "must start with #"),
            FieldError::new("limit", "must be at most 100"),
        ],
    };
    let body = problem_of(err).await.problem(422);
    assert_eq!(
        body["errors"],
        json!([
            {"field": "channel", "message": "must start with #"},
            {"field": "limit", "message": "must be at most 100"},
        ])
    );
}

#[tokio::test]
async fn unauthorized_challenges_with_bearer() {
    let reply = problem_of(ApiError::Unauthorized("missing bearer token".into())).await;
    reply.problem(401);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn too_many_requests_sets_retry_after_only_when_known() {
    let reply = problem_of(ApiError::TooManyRequests {
        retry_after_secs: Some(42),
    })
    .await;
    reply.problem(429);
    assert_eq!(reply.header("retry-after"), Some("42"));

    let reply = problem_of(ApiError::TooManyRequests {
        retry_after_secs: None,
    })
    .await;
    reply.problem(429);
    assert_eq!(reply.header("retry-after"), None);
}

#[tokio::test]
async fn internal_never_shows_its_cause() {
    let reply = problem_of(ApiError::internal("db password=hunter2 rejected")).await;
    let body = reply.problem(500);
    assert_eq!(body["detail"], "internal error");
    assert!(!reply.text().contains("hunter2"));
}

#[tokio::test]
async fn store_errors_map_to_their_statuses_without_raw_text() {
    let conflict = StoreError::ConditionFailed {
        pk: "TENANT#a".into(),
        sk: "SETTINGS#notifications".into(),
    };
    let tx = StoreError::TransactionConditionFailed {
        index: 1,
        pk: "TENANT#a".into(),
        sk: "AUDIT#HEAD".into(),
    };
    for err in [conflict, tx, StoreError::TransactionConflict] {
        let reply = problem_of(err.into()).await;
        reply.problem(409);
        assert!(!reply.text().contains("TENANT#"), "{}", reply.text());
    }

    let body = problem_of(StoreError::InvalidCursor.into())
        .await
        .problem(422);
    assert_eq!(body["errors"][0]["field"], "cursor");

    let reply = problem_of(StoreError::Invalid("limit 0 out of range".into()).into()).await;
    assert_eq!(reply.problem(500)["detail"], "internal error");
    assert!(!reply.text().contains("limit 0"));

    let reply = problem_of(StoreError::Unavailable("tcp reset by 10.1.2.3".into()).into()).await;
    assert_eq!(reply.problem(503)["detail"], "store unavailable");
    assert!(!reply.text().contains("10.1.2.3"));
}

// ---- ApiJson ----

#[tokio::test]
async fn json_body_is_accepted_with_or_without_charset() {
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let reply = send(
            &app(),
            post_json(Some(ct), r##"{"channel":"#ops","limit":5}"##),
        )
        .await;
        assert_eq!(reply.status, 200, "{ct}: {}", reply.text());
        assert_eq!(
            reply.json(),
            json!({"channel": "#ops", "limit": 5, "enabled": null})
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn missing_or_wrong_content_type_is_415() {
    for ct in [
        None,
        Some("text/plain"),
        Some("application/jsonx"),
        Some("multipart/form-data"),
    ] {
        let reply = send(&app(), post_json(ct, r#"{"channel":"a","limit":1}"#)).await;
        reply.problem(415);
    }
}

#[tokio::test]
async fn malformed_json_is_400_saying_where_without_echoing_input() {
    let reply = send(
        &app(),
        post_json(
            Some("application/json"),
            "{\"channel\": \"sk_live_SECRET\",\n \"limit\": }",
        ),
    )
    .await;
    let body = reply.problem(400);
    assert_eq!(body["detail"], "malformed JSON at line 2 column 11");
    assert!(!reply.text().contains("sk_live_SECRET"));

    let body = send(&app(), post_json(Some("application/json"), "{\"channel\":"))
        .await
        .problem(400);
    assert_eq!(body["detail"], "malformed JSON: unexpected end of input");

    let reply = send(&app(), post_json(Some("application/json"), "{} trailing")).await;
    reply.problem(400);
}

#[tokio::test]
async fn unknown_field_is_422_naming_it() {
    let reply = send(
        &app(),
        post_json(
            Some("application/json"),
            r##"{"channel":"#a","limit":1,"chanel":"#b"}"##,
        ),
    )
    .await;
    let body = reply.problem(422);
    assert_eq!(body["errors"][0]["field"], "chanel", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown field `chanel`"),
        "{body}"
    );
}

#[tokio::test]
async fn nested_unknown_and_missing_fields_name_their_path() {
    let body = send(
        &app(),
        post_json(
            Some("application/json"),
            r#"{"channel":"a","limit":1,"nested":{"enabled":true,"extra":1}}"#,
        ),
    )
    .await
    .problem(422);
    assert_eq!(body["errors"][0]["field"], "nested.extra", "{body}");

    let body = send(
        &app(),
        post_json(Some("application/json"), r#"{"channel":"a"}"#),
    )
    .await
    .problem(422);
    assert_eq!(body["errors"][0]["field"], "limit", "{body}");
    assert_eq!(body["errors"][0]["message"], "missing field `limit`");

    let body = send(
        &app(),
        post_json(
            Some("application/json"),
            r#"{"channel":"a","limit":1,"nested":{}}"#,
        ),
    )
    .await
    .problem(422);
    assert_eq!(body["errors"][0]["field"], "nested.enabled", "{body}");
}

#[tokio::test]
async fn wrong_type_is_422_naming_the_field_without_the_value() {
    let reply = send(
        &app(),
        post_json(
            Some("application/json"),
            r#"{"channel":"a","limit":"xoxb-secret-token"}"#,
        ),
    )
    .await;
    let body = reply.problem(422);
    assert_eq!(body["errors"][0]["field"], "limit", "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "invalid type: string, expected a non-negative integer"
    );
    assert!(!reply.text().contains("xoxb-secret-token"));
}

/// serde's derive reads a struct from an array by position; a body is a JSON
/// object at every depth, and a 422 speaks JSON, never a Rust type.
#[tokio::test]
async fn arrays_where_objects_are_documented_are_422_in_json_words() {
    for (body, field) in [
        (r#"["a", 1]"#, "body"),
        ("[]", "body"),
        ("null", "body"),
        ("7", "body"),
        (r#"{"channel":"a","limit":1,"nested":[true]}"#, "nested"),
    ] {
        let reply = send(&app(), post_json(Some("application/json"), body)).await;
        let problem = reply.problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        let text = problem.to_string();
        for rust in ["struct", "Settings", "Nested", "sequence", "elements"] {
            assert!(!text.contains(rust), "{body}: {rust} in {text}");
        }
    }
    let problem = send(
        &app(),
        post_json(
            Some("application/json"),
            r#"{"channel":"a","limit":1,"nested":[true]}"#,
        ),
    )
    .await
    .problem(422);
    assert_eq!(
        problem["errors"][0]["message"],
        "invalid type: array, expected a JSON object"
    );
}

#[tokio::test]
async fn body_over_the_limit_is_413_problem() {
    let big = format!(
        r#"{{"channel":"{}","limit":1}}"#,
        "x".repeat(BODY_LIMIT_BYTES)
    );
    // With Content-Length (the limit layer answers before the handler)…
    let reply = send(&app(), post_json(Some("application/json"), big.clone())).await;
    reply.problem(413);
    assert!(reply.header("x-request-id").is_some());

    // …and streamed without one (the extractor hits the limit while reading).
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(big.into_bytes())]);
    let req = Request::post("/settings")
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap();
    send(&app(), req).await.problem(413);
}

// ---- request ids ----

#[tokio::test]
async fn request_id_is_generated_and_visible_to_handlers() {
    let reply = send(&app(), Request::get("/id").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, 200);
    let header = reply.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(header).is_ok(), "{header}");
    assert_eq!(reply.text(), header, "handler and header agree");
}

#[tokio::test]
async fn sane_request_ids_are_echoed_and_others_replaced() {
    let supplied = "req-7f3a9c2e-client";
    let req = Request::get("/id")
        .header("x-request-id", supplied)
        .body(Body::empty())
        .unwrap();
    let reply = send(&app(), req).await;
    assert_eq!(reply.header("x-request-id"), Some(supplied));
    assert_eq!(reply.text(), supplied);

    let req = Request::get("/id")
        .header("x-amzn-requestid", "JkTfahfdIAMESNQ=")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app(), req).await.header("x-request-id"),
        Some("JkTfahfdIAMESNQ=")
    );

    for bad in [
        "short",
        "has space in it",
        "line\"quote{}",
        &"x".repeat(129),
    ] {
        let req = Request::get("/id")
            .header("x-request-id", bad)
            .body(Body::empty())
            .unwrap();
        let reply = send(&app(), req).await;
        let id = reply.header("x-request-id").unwrap();
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }
}

#[tokio::test]
async fn request_id_is_on_error_responses_too() {
    for req in [
        Request::get("/nowhere").body(Body::empty()).unwrap(),
        Request::get("/boom").body(Body::empty()).unwrap(),
        post_json(None, "{}"),
        Request::get("/down")
            .header("x-request-id", "trace-abc-12345")
            .body(Body::empty())
            .unwrap(),
    ] {
        let reply = send(&app(), req).await;
        assert!(reply.status.is_client_error() || reply.status.is_server_error());
        assert!(reply.header("x-request-id").is_some(), "{}", reply.text());
    }
}

// ---- routing errors, panics, foreign error bodies ----

#[tokio::test]
async fn unknown_route_is_404_problem() {
    let reply = send(
        &app(),
        Request::get("/nowhere").body(Body::empty()).unwrap(),
    )
    .await;
    reply.problem(404);
}

#[tokio::test]
async fn wrong_method_is_405_problem_keeping_allow() {
    let reply = send(&app(), Request::delete("/id").body(Body::empty()).unwrap()).await;
    reply.problem(405);
    let allow = reply.header("allow").unwrap_or_default();
    assert!(allow.contains("GET"), "allow: {allow}");
}

#[tokio::test]
async fn panicking_handler_is_500_problem() {
    let reply = send(&app(), Request::get("/boom").body(Body::empty()).unwrap()).await;
    let body = reply.problem(500);
    assert_eq!(body["detail"], "internal error");
    assert!(!reply.text().contains("handler bug"));
}

#[tokio::test]
async fn store_outage_is_503_without_the_cause() {
    let reply = send(&app(), Request::get("/down").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.problem(503)["detail"], "store unavailable");
    assert!(!reply.text().contains("dynamodb.internal"));
}

#[tokio::test]
async fn a_bare_error_status_becomes_a_problem_too() {
    let reply = send(&app(), Request::get("/bare").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.problem(409)["detail"], "Conflict");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn axum_rejections_become_problems_with_their_reason() {
    let ok = send(
        &app(),
        Request::get("/page?limit=5").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!((ok.status.as_u16(), ok.text().as_str()), (200, "5"));

    let reply = send(
        &app(),
        Request::get("/page?limit=abc").body(Body::empty()).unwrap(),
    )
    .await;
    let detail = reply.problem(400)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("limit"), "{detail}");
}

// ---- CORS ----

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/settings")
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization,content-type,if-match",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_is_answered_exactly() {
    let reply = send(&app(), preflight(ORIGIN)).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    let methods = reply.header("access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = reply
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
        "x-admin-key",
        "x-request-id",
    ] {
        assert!(headers.contains(h), "{headers}");
    }
    assert!(reply.header("x-request-id").is_some());
}

#[tokio::test]
async fn preflight_from_another_origin_gets_no_allow_origin() {
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.io",
        "null",
    ] {
        let reply = send(&app(), preflight(origin)).await;
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn simple_requests_expose_headers_to_the_allowed_origin_even_on_errors() {
    let req = Request::get("/nowhere")
        .header("origin", ORIGIN)
        .body(Body::empty())
        .unwrap();
    let reply = send(&app(), req).await;
    reply.problem(404);
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN));
    let exposed = reply
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in ["etag", "x-request-id", "location"] {
        assert!(exposed.contains(h), "{exposed}");
    }
}
