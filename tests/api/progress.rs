//! Imports you can watch: while an upload is still arriving, the registry and the import
//! show it `running` with how far it has got, here at once and on another replica from
//! the import's row; so do the metrics.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{csv, numbers, TestApp, ADMIN_KEY};
use crate::metrics::scrape;

/// Polls `GET /v1/registries/robinson` on `app` until `done` holds for its running
/// import's progress; returns the registry view.
async fn wait_for_progress(app: &TestApp, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.get("/v1/registries/robinson", ADMIN_KEY).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if done(&r.body["running_import"]["progress"]) {
            return r.body;
        }
        assert!(Instant::now() < deadline, "{what}: last seen {}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_running_import_shows_how_far_it_has_got_here_and_on_other_replicas() {
    let app = TestApp::spawn().await;
    let replica = app.replica().await;
    // The first part: a header, 10 rows that are no numbers, 10 000 numbers.
    let mut first = b"numer\n".to_vec();
    first.extend(std::iter::repeat_n(b"not a number\n".to_vec(), 10).flatten());
    first.extend_from_slice(&csv(&numbers(10_000, 0))[6..]);
    let rest = csv(&numbers(10_000, 10_000))[6..].to_vec();
    let size = first.len() + rest.len();

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let req = Request::post("/v1/registries/robinson/imports")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .header(header::CONTENT_LENGTH, size)
        .body(body)
        .unwrap();
    let upload = tokio::spawn(app.router.clone().oneshot(req));
    tx.send(Ok(Bytes::from(first.clone()))).await.unwrap();

    // Here: at once, from the import itself.
    let sent = first.len() as f64;
    let view = wait_for_progress(&app, "this process sees the first part read", |p| {
        p["bytes_read"] == first.len() && p["rows_read"].as_i64() >= Some(4096)
    })
    .await;
    let running = &view["running_import"];
    assert_eq!(running["status"], "running", "{view}");
    let p = &running["progress"];
    assert_eq!(p["phase"], "reading");
    assert_eq!(p["bytes_expected"], size);
    assert_eq!(p["fraction"].as_f64().unwrap(), sent / size as f64);
    let rows = p["rows_read"].as_i64().unwrap();
    assert!(rows <= 10_010, "{p}");
    assert_eq!(p["rows_rejected"], 10, "{p}");
    assert_eq!(p["rows_accepted"].as_i64().unwrap() + 10, rows);
    assert_eq!(
        running["rows_total"], rows,
        "the record's counts say the same"
    );
    assert_eq!(running["bytes"], first.len());
    let id = running["id"].as_i64().unwrap();
    let one = app
        .get(&format!("/v1/registries/robinson/imports/{id}"), ADMIN_KEY)
        .await;
    assert_eq!(one.body["status"], "running");
    assert_eq!(one.body["progress"]["bytes_read"], first.len());
    let list = app.get("/v1/registries/robinson/imports", ADMIN_KEY).await;
    assert_eq!(list.body["imports"][0]["status"], "running");
    assert_eq!(list.body["imports"][0]["progress"]["bytes_expected"], size);

    // Another replica: from the import's row, written about once a second.
    let seen = wait_for_progress(&replica, "the replica sees the first part read", |p| {
        p["bytes_read"] == first.len() && p["rows_read"].as_i64() >= Some(4096)
    })
    .await;
    let p = &seen["running_import"]["progress"];
    assert_eq!(p["bytes_expected"], size);
    assert_eq!(p["fraction"].as_f64().unwrap(), sent / size as f64);
    assert_eq!(p["rows_rejected"], 10, "{p}");

    // The metrics of the process running it.
    let m = scrape(&app).await;
    let robinson = [("registry", "robinson")];
    assert_eq!(m.get("tarcza_import_in_progress", &robinson), 1.0);
    assert_eq!(m.get("tarcza_import_progress_bytes", &robinson), sent);
    assert_eq!(
        m.get("tarcza_import_progress_expected_bytes", &robinson),
        size as f64
    );
    assert_eq!(
        m.get("tarcza_import_progress_ratio", &robinson),
        sent / size as f64
    );
    let rejected = [("registry", "robinson"), ("outcome", "rejected")];
    assert_eq!(m.get("tarcza_import_progress_rows", &rejected), 10.0);

    tx.send(Ok(Bytes::from(rest))).await.unwrap();
    drop(tx);
    let res = upload.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let done = app.get("/v1/registries/robinson", ADMIN_KEY).await;
    assert_eq!(done.body["running_import"], Value::Null, "{}", done.body);
    let last = &done.body["last_import"];
    assert_eq!(last["status"], "succeeded", "{last}");
    assert_eq!(last["rows_total"], 20_010);
    assert_eq!(last["bytes"], size);
    assert!(last.get("progress").is_none(), "{last}");
    let m = scrape(&app).await;
    assert_eq!(m.get("tarcza_import_in_progress", &robinson), 0.0);
    assert!(!m.has("tarcza_import_progress_bytes"));
}
