//! The HTTP API in front of the functions: each request is matched against the
//! template's routes as API Gateway selects them (literal segments before
//! `{param}`, `{proxy+}` last; the method, else `ANY`), turned into a payload
//! 2.0 event (the `events/*.json` shape), and the function's answer into the
//! HTTP response. Preflights are answered from the API's CORS configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::aws::ACCOUNT;
use super::runtime_api::Function;
use super::template::Route;

pub struct Front {
    pub routes: Vec<Route>,
    pub functions: BTreeMap<String, Arc<Function>>,
    pub cors: Option<Value>,
    pub api_id: String,
}

/// The best route for a request and its path parameters.
pub fn select<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, Map<String, Value>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    routes
        .iter()
        .filter(|r| r.method == method || r.method == "ANY")
        .filter_map(|r| {
            let (params, score) = match_path(&r.path, &segments)?;
            // More literal segments first, then fewer greedy ones, then exact method.
            Some(((score, r.method != "ANY"), r, params))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, r, params)| (r, params))
}

/// Path parameters and a specificity score, when `template` matches.
fn match_path(template: &str, segments: &[&str]) -> Option<(Map<String, Value>, (usize, usize))> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let mut params = Map::new();
    let (mut literal, mut non_greedy) = (0, 1);
    for (i, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            let rest = segments.get(i..).filter(|r| !r.is_empty())?;
            params.insert(name.into(), rest.join("/").into());
            non_greedy = 0;
            return (i + 1 == parts.len()).then_some((params, (literal, non_greedy)));
        }
        let seg = *segments.get(i)?;
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if seg.is_empty() {
                return None;
            }
            let value = percent_decode(seg);
            params.insert(name.into(), value.into());
        } else if *part == seg {
            literal += 1;
        } else {
            return None;
        }
    }
    (parts.len() == segments.len()).then_some((params, (literal, non_greedy)))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// API Gateway's payload 2.0 event for a request.
pub fn event(
    route: &Route,
    params: Map<String, Value>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    api_id: &str,
) -> Value {
    let mut hs: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        hs.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|x| {
                x.push(',');
                x.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let text = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|c| {
            c.starts_with("text/")
                || c.contains("json")
                || c.contains("xml")
                || c.contains("x-www-form-urlencoded")
        });
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (None, false),
        Ok(s) if text => (Some(s.to_owned()), false),
        _ => (
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let now = chrono::Utc::now();
    let route_key = format!("{} {}", route.method, route.path);
    let source_ip = hs
        .get("x-forwarded-for")
        .map_or("127.0.0.1", |v| v.split(',').next().unwrap_or("127.0.0.1"))
        .to_owned();
    let host = hs.get("host").cloned().unwrap_or_default();
    let mut e = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or(""),
        "headers": hs,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(""),
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        e["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        e["queryStringParameters"] = json!(query);
    }
    if !params.is_empty() {
        e["pathParameters"] = Value::Object(params);
    }
    if let Some(body) = body {
        e["body"] = body.into();
    }
    e
}

/// The HTTP response for a function's payload 2.0 answer.
pub fn response(answer: &Value) -> Response {
    // An answer without statusCode is a JSON body with 200.
    let Some(status) = answer.get("statusCode").and_then(Value::as_u64) else {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            answer.to_string(),
        )
            .into_response();
    };
    let body = answer["body"].as_str().unwrap_or("");
    let body = if answer["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in answer["headers"].as_object().into_iter().flatten() {
        if let (Ok(k), Some(Ok(v))) = (
            HeaderName::try_from(k.as_str()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            out.headers_mut().insert(k, v);
        }
    }
    for (k, vs) in answer["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for v in vs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                out.headers_mut().append(k, v);
            }
        }
    }
    for c in answer["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Ok(v) = HeaderValue::from_str(c) {
            out.headers_mut().append("set-cookie", v);
        }
    }
    out
}

fn gateway_message(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

impl Front {
    pub async fn handle(
        self: Arc<Self>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let origin = headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if method == Method::OPTIONS
            && headers.contains_key("access-control-request-method")
            && let Some(r) = self.preflight(origin.as_deref(), &headers)
        {
            return r;
        }
        let Some((route, params)) = select(&self.routes, method.as_str(), uri.path()) else {
            return gateway_message(StatusCode::NOT_FOUND, "Not Found");
        };
        let Some(function) = self.functions.get(&route.function) else {
            return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let event = event(route, params, &method, &uri, &headers, &body, &self.api_id);
        let request_id = event["requestContext"]["requestId"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let mut out = match function.invoke(event).await {
            Ok(answer) => response(&answer),
            Err(e) => {
                eprintln!(
                    "local-stack: {} {}: {} ({}: {})",
                    method,
                    uri.path(),
                    route.function,
                    e.error_type,
                    e.message
                );
                gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            out.headers_mut().insert("apigw-requestid", v);
        }
        self.cors_headers(origin.as_deref(), out.headers_mut());
        out
    }

    fn allowed_origin(&self, origin: Option<&str>) -> Option<String> {
        let cors = self.cors.as_ref()?;
        let origin = origin?;
        let allowed = cors["allowOrigins"].as_array()?;
        allowed
            .iter()
            .any(|o| o == origin || o == "*")
            .then(|| origin.to_owned())
    }

    fn preflight(&self, origin: Option<&str>, headers: &HeaderMap) -> Option<Response> {
        let cors = self.cors.as_ref()?;
        let origin = self.allowed_origin(origin)?;
        let list = |k: &str| {
            cors[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        let requested = headers
            .get("access-control-request-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        let mut set = |k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set("access-control-allow-origin", origin);
        set("access-control-allow-methods", list("allowMethods"));
        set(
            "access-control-allow-headers",
            if requested.is_empty() {
                list("allowHeaders")
            } else {
                requested.to_owned()
            },
        );
        if cors["allowCredentials"].as_bool() == Some(true) {
            set("access-control-allow-credentials", "true".into());
        }
        if let Some(age) = cors["maxAge"].as_u64() {
            set("access-control-max-age", age.to_string());
        }
        Some(r)
    }

    /// API Gateway sets the configured CORS headers on every answer to an allowed origin.
    fn cors_headers(&self, origin: Option<&str>, h: &mut HeaderMap) {
        let (Some(cors), Some(origin)) = (self.cors.as_ref(), self.allowed_origin(origin)) else {
            return;
        };
        if let Ok(v) = HeaderValue::from_str(&origin) {
            h.insert("access-control-allow-origin", v);
        }
        if cors["allowCredentials"].as_bool() == Some(true) {
            h.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
        }
        let expose: Vec<&str> = cors["exposeHeaders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let (false, Ok(v)) = (expose.is_empty(), HeaderValue::from_str(&expose.join(","))) {
            h.insert("access-control-expose-headers", v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str, f: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function: f.into(),
        }
    }

    #[test]
    fn selection_prefers_literal_segments_and_exact_methods() {
        let routes = vec![
            r("GET", "/api/v1/policy/events/{event_id}", "Read"),
            r("GET", "/api/v1/policy/events/stats", "Stats"),
            r("ANY", "/api/{proxy+}", "Catch"),
            r("POST", "/api/v1/policy/events", "Accept"),
        ];
        let pick = |m: &str, p: &str| {
            select(&routes, m, p).map(|(r, params)| (r.function.clone(), Value::Object(params)))
        };
        assert_eq!(
            pick("GET", "/api/v1/policy/events/e%201"),
            Some(("Read".into(), json!({"event_id": "e 1"})))
        );
        assert_eq!(
            pick("GET", "/api/v1/policy/events/stats"),
            Some(("Stats".into(), json!({})))
        );
        assert_eq!(
            pick("POST", "/api/v1/policy/events"),
            Some(("Accept".into(), json!({})))
        );
        assert_eq!(
            pick("DELETE", "/api/v1/x/y"),
            Some(("Catch".into(), json!({"proxy": "v1/x/y"})))
        );
        assert_eq!(pick("GET", "/health"), None);
        assert_eq!(
            pick("GET", "/api/v1/policy/events/"),
            Some(("Catch".into(), json!({"proxy": "v1/policy/events/"})))
        );
    }

    #[test]
    fn the_event_has_the_shape_of_the_samples() {
        let sample: Value =
            serde_json::from_str(include_str!("../../../events/health-get.json")).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers.append("x-many", HeaderValue::from_static("a"));
        headers.append("x-many", HeaderValue::from_static("b"));
        headers.insert("cookie", HeaderValue::from_static("a=1; b=2"));
        let uri: Uri = "/health?x=1&x=2".parse().unwrap();
        let e = event(
            &r("GET", "/health", "Health"),
            Map::new(),
            &Method::GET,
            &uri,
            &headers,
            b"",
            "local",
        );
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert!(keys(&sample).is_subset(&keys(&e)), "{e}");
        assert!(keys(&sample["requestContext"]).is_subset(&keys(&e["requestContext"])));
        assert_eq!(e["routeKey"], "GET /health");
        assert_eq!(e["headers"]["x-many"], "a,b");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(e["queryStringParameters"]["x"], "1,2");
        assert_eq!(e["rawQueryString"], "x=1&x=2");
        let binary = event(
            &r("POST", "/x", "F"),
            Map::new(),
            &Method::POST,
            &uri,
            &{
                let mut h = HeaderMap::new();
                h.insert("content-type", HeaderValue::from_static("application/zip"));
                h
            },
            &[0xff, 0x00],
            "local",
        );
        assert_eq!(
            (binary["body"].as_str(), binary["isBase64Encoded"].as_bool()),
            (Some("/wA="), Some(true))
        );
    }

    #[tokio::test]
    async fn preflights_are_answered_from_the_cors_configuration() {
        let front = Arc::new(Front {
            routes: vec![r("GET", "/api/v1/me", "Admin")],
            functions: BTreeMap::new(),
            cors: Some(
                json!({"allowOrigins": ["https://app.example.com"], "allowMethods": ["GET"],
                              "allowHeaders": ["authorization"], "allowCredentials": true, "maxAge": 600}),
            ),
            api_id: "local".into(),
        });
        let ask = |origin: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("origin", HeaderValue::from_static(origin));
            h.insert(
                "access-control-request-method",
                HeaderValue::from_static("GET"),
            );
            front.clone().handle(
                Method::OPTIONS,
                "/api/v1/me".parse().unwrap(),
                h,
                Bytes::new(),
            )
        };
        let ok = ask("https://app.example.com").await;
        assert_eq!(ok.status(), 204);
        assert_eq!(
            ok.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
        assert_eq!(ok.headers()["access-control-max-age"], "600");
        // Another origin gets no preflight answer (and no such route).
        assert_eq!(ask("https://evil.example").await.status(), 404);
    }

    #[test]
    fn answers_become_responses() {
        let r = response(
            &json!({"statusCode": 201, "headers": {"etag": "\"1\""}, "body": "aGk=", "isBase64Encoded": true, "cookies": ["a=1"]}),
        );
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["etag"], "\"1\"");
        assert_eq!(r.headers()["set-cookie"], "a=1");
        assert_eq!(response(&json!({"ok": true})).status(), 200);
    }
}
