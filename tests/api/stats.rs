//! `GET /v1/stats`: the per-minute counts of recent checks behind the console's chart.

use axum::http::StatusCode;
use serde_json::json;
use tarcza::domain::Role;

use crate::helpers::{TestApp, ADMIN_KEY};

#[tokio::test]
async fn checks_and_blocks_are_counted_per_minute_by_source() {
    let app = TestApp::spawn().await;
    let dialer = app.key(Role::Dialer).await;
    let empty = app.get("/v1/stats", &dialer).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body["total"]["checks"], 0);
    assert_eq!(empty.body["minutes"], json!([]));

    app.block("601000001").await;
    app.upload(
        "robinson",
        "mode=snapshot",
        b"phone\n601000001\n601000002\n".to_vec(),
    )
    .await;
    for n in ["601000001", "601000002", "601000003"] {
        app.check(n).await;
    }
    let r = app
        .post(
            "/v1/check",
            &dialer,
            json!({"numbers": ["601000001", "601000004", "not a number"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A refused check is not an answer and is not counted.
    app.check("12").await;

    let r = app.get("/v1/stats", ADMIN_KEY).await;
    let total = &r.body["total"];
    assert_eq!(total["checks"], 5, "{}", r.body);
    assert_eq!(total["blocked"], 3);
    assert_eq!(total["blocked_dnc"], 2);
    assert_eq!(total["blocked_registry"], 3);
    let minutes = r.body["minutes"].as_array().unwrap();
    assert!(!minutes.is_empty() && minutes.len() <= 2, "{}", r.body);
    assert!(minutes[0]["at"].as_str().unwrap().ends_with(":00Z"));
}

#[tokio::test]
async fn a_check_blocked_for_a_missing_consent_counts_as_blocked() {
    let app = TestApp::spawn().await;
    let r = app
        .call(
            axum::http::Method::PUT,
            "/v1/policies/clients/acme",
            Some(ADMIN_KEY),
            Some(json!({"consent_required": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .get("/v1/check?number=601000001&client=acme", ADMIN_KEY)
        .await;
    assert_eq!(r.body["allowed"], false, "{}", r.body);
    let r = app.get("/v1/stats", ADMIN_KEY).await;
    let total = &r.body["total"];
    assert_eq!(total["checks"], 1, "{}", r.body);
    assert_eq!(total["blocked"], 1, "{}", r.body);
    assert_eq!(total["blocked_dnc"], 0);
    assert_eq!(total["blocked_registry"], 0);
}
