//! Registry sources tarcza does not control: secrets in their URLs stay out of what
//! tarcza shows, redirects stay on the source's host, a synced file is echoed only in
//! part, changed settings read an unchanged source again, a delta feed cannot empty a
//! registry, and a manual sync that takes long says where to follow it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tarcza::config::registries::from_vars;
use tarcza::config::Config;
use tarcza::http::AppState;
use tower::ServiceExt;

use crate::helpers::{csv, numbers, TestApp, ADMIN_KEY};
use crate::privacy::Captured;
use crate::sync::{app_with, imports, sync, write_file, FileServer, DAY};

/// A source host with a file, redirects, and a slow answer.
struct Host {
    base: String,
    port: u16,
    file: Vec<u8>,
    file_hits: AtomicUsize,
}

async fn host(file: Vec<u8>) -> Arc<Host> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = Arc::new(Host {
        base: format!("http://127.0.0.1:{port}"),
        port,
        file,
        file_hits: AtomicUsize::new(0),
    });
    let serve_file = |State(h): State<Arc<Host>>| async move {
        h.file_hits.fetch_add(1, Ordering::SeqCst);
        h.file.clone()
    };
    let router = Router::new()
        .route("/list.csv", get(serve_file))
        .route("/moved", get(|| async { Redirect::to("/list.csv") }))
        .route(
            "/away",
            get(|State(h): State<Arc<Host>>| async move {
                // The same server by another name: only the host differs.
                let to = format!("http://localhost:{}/list.csv?sig=zzz-secret", h.port);
                Redirect::to(&to)
            }),
        )
        .route(
            "/slow.csv",
            get(|State(h): State<Arc<Host>>| async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                h.file.clone().into_response()
            }),
        )
        .with_state(host.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    host
}

/// An app whose registries are configured by `vars`, with `configure` applied.
async fn app_configured(vars: &[(&str, String)], configure: impl FnOnce(&mut Config)) -> TestApp {
    let registries = from_vars(
        vars.iter()
            .map(|(k, v)| (format!("TARCZA_REGISTRY_{k}"), v.clone())),
    )
    .unwrap();
    TestApp::spawn_with(move |c: &mut Config| {
        c.registries = registries;
        c.sync_retry_delay = Duration::from_millis(10);
        configure(c);
    })
    .await
}

#[tokio::test]
async fn a_source_url_is_shown_without_its_credentials_or_query() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://ops:pa55word@127.0.0.1:{port}/list.csv?token=s3cr3t-token");
    let app = app_with(&[("ROBINSON_SOURCE", url)]).await;

    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = crate::privacy::capture(subscriber);
    let failed = sync(&app, "robinson").await;
    drop(guard);
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("http://127.0.0.1:{port}/list.csv")),
        "{error}"
    );

    let shown = [
        failed.to_string(),
        imports(&app, "robinson").await[0].to_string(),
        app.get("/v1/registries/robinson", ADMIN_KEY)
            .await
            .body
            .to_string(),
        app.get("/v1/audit", ADMIN_KEY).await.body.to_string(),
        log.text(),
    ];
    assert!(
        shown[4].contains("sync"),
        "the log was captured: {}",
        shown[4]
    );
    for text in shown {
        for secret in ["s3cr3t", "pa55word", "ops:", "token="] {
            assert!(!text.contains(secret), "{secret:?} shown in {text}");
        }
    }
}

#[tokio::test]
async fn redirects_are_followed_only_within_the_sources_host() {
    let host = host(csv(&numbers(10, 0))).await;
    let app = app_with(&[
        ("MOVED_SOURCE", format!("{}/moved", host.base)),
        ("AWAY_SOURCE", format!("{}/away", host.base)),
    ])
    .await;
    let done = sync(&app, "moved").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(host.file_hits.load(Ordering::SeqCst), 1);

    let refused = sync(&app, "away").await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "redirected to http://localhost:{}/list.csv;",
            host.port
        )),
        "{error}"
    );
    assert!(error.contains("only within"), "{error}");
    assert!(!error.contains("zzz-secret"), "{error}");
    assert_eq!(host.file_hits.load(Ordering::SeqCst), 1, "not followed");
}

#[tokio::test]
async fn a_synced_file_is_echoed_only_in_part() {
    let mut file = String::from("numer\n");
    for n in numbers(300, 0) {
        file.push_str(&n);
        file.push('\n');
    }
    file.push_str(
        "<!doctype html><html><head><title>Admin</title></head><body>api_key=abcdef0123456789\n",
    );
    let host = host(file.into_bytes()).await;
    let app = app_with(&[("ROBINSON_SOURCE", format!("{}/list.csv", host.base))]).await;
    let done = sync(&app, "robinson").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let rejects = done["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 1, "{done}");
    assert_eq!(rejects[0]["line"], 302);
    let raw = rejects[0]["raw"].as_str().unwrap();
    assert_eq!(raw, "<!doctype html><html><head><title>Admin<…");
    assert!(!done.to_string().contains("abcdef0123456789"), "{done}");
}

/// Syncs a windows-1250 file first without its encoding, then (another process on the
/// same database, configured anew) with it: the source has not changed, the reading has.
async fn changed_settings_read_the_source_again(source: String, server: Option<&FileServer>) {
    let plain = [("ROBINSON_SOURCE", source.clone())];
    let first = app_configured(&plain, |c| c.max_reject_rate = 0.5).await;
    let done = sync(&first, "robinson").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_rejected"], 2, "{done}");
    assert!(first.allowed("601000009").await);
    let again = sync(&first, "robinson").await;
    assert_eq!(again["unchanged"], true, "{again}");
    let hits = server.map(|s| s.hits());

    let mut settings = (*first.state.settings).clone();
    settings.registries = from_vars([
        ("TARCZA_REGISTRY_ROBINSON_SOURCE".to_string(), source),
        (
            "TARCZA_REGISTRY_ROBINSON_ENCODING".to_string(),
            "windows-1250".to_string(),
        ),
    ])
    .unwrap();
    let pool = tarcza::db::connect(&first.db_url).await.unwrap();
    let state = AppState::new(pool, settings);
    state.index.refresh(&state.db).await.unwrap();
    let second = TestApp::with_state(state, first.db_url.clone());
    let reread = sync(&second, "robinson").await;
    assert_eq!(reread["status"], "succeeded", "{reread}");
    assert_eq!(reread["unchanged"], false, "{reread}");
    assert_eq!(reread["rows_rejected"], 0, "{reread}");
    assert!(!second.allowed("601000009").await);
    if let (Some(server), Some(hits)) = (server, hits) {
        assert_eq!(server.hits(), hits + 1);
    }
    // Read the new way once, the source's "not modified" counts again.
    let again = sync(&second, "robinson").await;
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(again["rows_total"], 0, "{again}");
}

fn cp1250_export() -> Vec<u8> {
    let mut text = String::from("Nazwisko;Telefon\n");
    for i in 0..8 {
        text.push_str(&format!("Jan Nowak;60100000{i}\n"));
    }
    text.push_str("Łukasz Żółć;601000008\nŻaneta Ćwik;601000009\n");
    encoding_rs::WINDOWS_1250.encode(&text).0.to_vec()
}

#[tokio::test]
async fn a_sync_whose_settings_changed_reads_a_not_modified_source_again() {
    let server = FileServer::start().await;
    server.publish("export.csv", &cp1250_export(), DAY);
    changed_settings_read_the_source_again(server.url("export.csv"), Some(&server)).await;
}

#[tokio::test]
async fn a_sync_whose_settings_changed_reads_an_unchanged_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    write_file(&path, &cp1250_export(), DAY);
    changed_settings_read_the_source_again(path.display().to_string(), None).await;
}

#[tokio::test]
async fn a_delta_feed_cannot_empty_a_registry() {
    let server = FileServer::start().await;
    let app = app_with(&[
        ("ROBINSON_SOURCE", server.url("delta.csv")),
        ("ROBINSON_MODE", "delta".into()),
    ])
    .await;
    let mut adds = String::from("numer;op\n");
    let mut removes = adds.clone();
    for n in numbers(100, 0) {
        adds.push_str(&format!("{n};A\n"));
        removes.push_str(&format!("{n};D\n"));
    }
    server.publish("delta.csv", adds.as_bytes(), DAY);
    let done = sync(&app, "robinson").await;
    assert_eq!(done["entries_after"], 100, "{done}");
    server.publish("delta.csv", removes.as_bytes(), Duration::ZERO);
    let refused = sync(&app, "robinson").await;
    assert_eq!(refused["status"], "refused", "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("max_shrink"));
    assert!(!app.allowed("600000050").await);
}

#[tokio::test]
async fn a_manual_sync_that_outlasts_the_request_timeout_answers_202_and_names_who_asked() {
    let host = host(csv(&numbers(10, 0))).await;
    let app = app_configured(
        &[("ROBINSON_SOURCE", format!("{}/slow.csv", host.base))],
        |c| c.request_timeout = Duration::from_secs(1),
    )
    .await;
    let (ops_id, secret) = ops_key(&app).await;
    let res = sync_as(&app, &secret).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let running: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["created_by"], ops_id, "{running}");
    let id = running["id"].clone();
    assert_eq!(location, format!("/v1/registries/robinson/imports/{id}"));

    // The sync carries on and records its result, and who asked for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let done = loop {
        let now = app.get(&location, ADMIN_KEY).await.body;
        if now["status"] != "running" {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["created_by"], ops_id);
    // The record commits before this process refreshes its snapshot from it: until then
    // /check answers 503 not_ready (closed), then blocks, within the documented lag.
    let verdict = loop {
        let r = app.check("600000005").await;
        if r.status == StatusCode::OK {
            break r.body;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "not_ready", "{}", r.body);
        assert!(tokio::time::Instant::now() < deadline, "{}", r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(verdict["allowed"], false, "{verdict}");
    let audit = app.get("/v1/audit", ADMIN_KEY).await.body;
    let events: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == format!("import:{id}"))
        .collect();
    assert_eq!(events.len(), 2, "{audit}");
    for e in events {
        assert_eq!(e["actor"]["id"], ops_id, "{e}");
    }

    // A sync that finishes in time answers with its record, also naming the caller.
    let quick = app_with(&[("ROBINSON_SOURCE", format!("{}/list.csv", host.base))]).await;
    let (ops_id, secret) = ops_key(&quick).await;
    let res = sync_as(&quick, &secret).await;
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let done: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["created_by"], ops_id, "{done}");
}

/// A new ops key: its id and its secret.
async fn ops_key(app: &TestApp) -> (Value, String) {
    let key = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "ops-1", "role": "ops"}),
        )
        .await
        .body;
    (key["id"].clone(), key["key"].as_str().unwrap().to_string())
}

/// `POST /v1/registries/robinson/sync` with `key`, the whole response.
async fn sync_as(app: &TestApp, key: &str) -> Response {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/registries/robinson/sync")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    app.router.clone().oneshot(req).await.unwrap()
}
