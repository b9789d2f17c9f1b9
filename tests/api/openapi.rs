//! The OpenAPI document: served as committed, every operation says who may call it and
//! the router enforces exactly that, and the viewer is served from the binary.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::helpers::TestApp;

const COMMITTED: &str = include_str!("../../openapi.json");

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    assert!(
        tarcza::http::openapi_json() == COMMITTED,
        "openapi.json is not what the code documents: run `tarcza openapi > openapi.json` \
         (cargo run -- openapi > openapi.json) and commit it"
    );
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let committed: Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(r.body, committed);
    assert_eq!(r.body["openapi"], "3.1.0");
}

#[tokio::test]
async fn without_metrics_on_the_api_the_document_leaves_them_out() {
    let app = TestApp::spawn_with(|c| c.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let r = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["paths"].get("/metrics").is_none());
    assert!(r.body["paths"].get("/v1/check").is_some());
}

/// The status and body text of a request (any content type).
async fn raw(
    app: &TestApp,
    method: Method,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(axum::body::Body::from(b.to_string())),
        None => req.body(axum::body::Body::empty()),
    };
    let (status, bytes) = app.send_raw(req.unwrap()).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Every operation of the document, as (method, path template, operation).
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            out.push((method, path.clone(), op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_operation_enforces_exactly_the_role_it_documents() {
    let app = TestApp::spawn().await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, app.key(role).await));
    }
    // Client-bound keys (dialers and agents only): refused wherever the document says
    // `refused` (every route that made no decision), kept to their client elsewhere.
    let mut bound = Vec::new();
    for role in [Role::Dialer, Role::Agent] {
        bound.push((role, app.bound_key(role, json!({"client": "acme"})).await));
    }
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut keyed = 0;
    let mut open_to_bound = 0;
    // Writes that change who may call go last (revoking key 1, the bootstrap key).
    let mut ops = operations(&doc);
    ops.sort_by_key(|(method, path, _)| {
        (
            *method == Method::DELETE && path.contains("keys"),
            path.clone(),
        )
    });
    for (method, path, op) in ops {
        let uri = path
            .replace("{name}", "robinson")
            .replace("{id}", "1")
            .replace("{client}", "acme")
            .replace("{campaign}", "winter");
        let body = [Method::POST, Method::PUT, Method::DELETE]
            .contains(&method)
            .then(|| json!({}));
        let id = op["operationId"].as_str().unwrap();
        let Some(required) = op["x-required-role"].as_str() else {
            assert_eq!(
                op["security"],
                json!([{}]),
                "{id} says neither a role nor public"
            );
            let (status, text) = raw(&app, method.clone(), &uri, None, body).await;
            assert_eq!(status, StatusCode::OK, "{id} is public: {text}");
            continue;
        };
        keyed += 1;
        assert_eq!(op["security"], json!([{"bearer": []}]), "{id}");
        let description = op["description"].as_str().unwrap();
        assert!(
            description.contains(&format!("`{required}` role")),
            "{id}: {description}"
        );
        let required: Role = required.parse().unwrap();
        let (status, text) = raw(&app, method.clone(), &uri, None, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{id} without a key: {text}"
        );
        for (role, key) in &keys {
            let (status, text) = raw(&app, method.clone(), &uri, Some(key), body.clone()).await;
            if role.allows(required) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{id} refused a {role} key: {status} {text}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{id} let a {role} key in: {text}"
                );
            }
        }
        let rule = op["x-client-bound-keys"].as_str();
        assert!(
            matches!(rule, Some("refused" | "own client")),
            "{id} says nothing of client-bound keys: {rule:?}"
        );
        if rule == Some("own client") {
            open_to_bound += 1;
        }
        for (role, key) in &bound {
            let (status, text) = raw(&app, method.clone(), &uri, Some(key), body.clone()).await;
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .map(|b| b["error"]["code"].clone());
            if !role.allows(required) {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{id} let a bound {role} key in: {text}"
                );
                assert_eq!(code, Some(json!("forbidden")), "{id}: {text}");
            } else if rule == Some("own client") {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{id} refused a bound {role} key: {status} {text}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{id} let a bound {role} key in: {text}"
                );
                assert_eq!(code, Some(json!("bound_key_forbidden")), "{id}: {text}");
            }
        }
    }
    assert!(keyed >= 30, "only {keyed} keyed operations");
    assert!(
        open_to_bound >= 10,
        "only {open_to_bound} operations open to bound keys"
    );
}

#[tokio::test]
async fn the_viewer_is_served_from_the_binary_and_asks_nothing_of_other_hosts() {
    let app = TestApp::spawn().await;
    for (path, content_type) in [
        ("/docs", "text/html"),
        ("/docs/init.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
    ] {
        let res = tower::ServiceExt::oneshot(
            app.router.clone(),
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(content_type), "{path}: {ct}");
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        if !path.ends_with("bundle.js") && !path.ends_with(".css") {
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{path}: {text}"
            );
            if path == "/docs/init.js" {
                assert!(text.contains("validatorUrl: null"), "{text}");
                assert!(text.contains("\"/openapi.json\""), "{text}");
            }
        } else {
            assert!(bytes.len() > 100_000, "{path}: {} bytes", bytes.len());
        }
    }
    let r = app.call(Method::GET, "/docs/nothing.js", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Each operation's request body is its own handler's type: two types of one name (an
/// `AddRequest` of the do-not-call list and one of consents) would share one component,
/// and one of the operations would document the other's body.
#[test]
fn each_request_body_is_documented_as_its_handler_reads_it() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let body = |path: &str, method: &str| {
        let schema =
            &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
        let name = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .unwrap_or_else(|| panic!("{method} {path}: {schema}"));
        let schema = &doc["components"]["schemas"][name];
        // A body with a rule between its fields is `allOf` the fields and the rule.
        let fields = schema["allOf"].get(0).unwrap_or(schema);
        let properties = fields["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    };
    assert_eq!(
        body("/v1/dnc", "post"),
        [
            "campaign",
            "client",
            "expires_at",
            "external_id",
            "note",
            "number",
            "prefix",
            "reason",
            "source"
        ]
    );
    assert_eq!(
        body("/v1/consents", "post"),
        [
            "client",
            "evidence",
            "expires_at",
            "given_at",
            "note",
            "number",
            "purpose",
            "source"
        ]
    );
    // Exactly one of `number` and `prefix`, in the schema itself.
    let rule = &doc["components"]["schemas"]["AddRequest"]["allOf"][1]["oneOf"];
    assert_eq!(rule[0]["required"], json!(["number"]));
    assert_eq!(rule[1]["required"], json!(["prefix"]));
    assert_eq!(body("/v1/dnc/{id}", "delete"), ["reason"]);
    assert_eq!(body("/v1/consents/{id}", "delete"), ["reason"]);
    assert_eq!(
        body("/v1/policies/clients/{client}", "put"),
        ["consent_required", "purpose"]
    );
}

/// Every JSON answer names its schema: an empty schema (`{}`, anything) documents nothing
/// a client can generate from, and lets the fuzzer accept any answer.
#[test]
fn every_json_answer_is_documented_by_a_schema() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut untyped = Vec::new();
    for (method, path, op) in operations(&doc) {
        for (status, answer) in op["responses"].as_object().unwrap() {
            let Some(content) = answer["content"].as_object() else {
                continue;
            };
            for (media, body) in content {
                if media.contains("json") && body["schema"].as_object().is_none_or(|s| s.is_empty())
                {
                    untyped.push(format!("{method} {path} {status} {media}"));
                }
            }
        }
    }
    assert!(untyped.is_empty(), "answers without a schema: {untyped:?}");
}
