use axum::http::{Method, StatusCode};

use crate::helpers::TestApp;

#[tokio::test]
async fn readiness_follows_the_snapshot_and_needs_no_key() {
    let app = TestApp::spawn_unloaded().await;
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["status"], "not_ready");

    app.state.index.refresh(&app.state.db).await.unwrap();
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["database"]["ok"], true);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_error_bodies() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/v1/nothing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
    let r = app.call(Method::PUT, "/v1/check", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["error"]["code"], "method_not_allowed");
}
