//! Registries that keep themselves current: scheduled re-sync from a real local HTTP
//! server (or a directory) serving real files, freshness, and the file formats.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tarcza::config::registries::from_vars;
use tarcza::config::Config;
use tarcza::jobs::sync;
use tarcza::store::locks::SessionLock;
use tokio_util::sync::CancellationToken;

use crate::helpers::{csv, gzip, numbers, sha256_hex, TestApp, ADMIN_KEY};

/// A directory served over HTTP the way registries publish: Last-Modified from the
/// file's mtime, an ETag from its content, 304 for a matching If-None-Match.
pub(crate) struct FileServer {
    dir: tempfile::TempDir,
    base: String,
    down: AtomicBool,
    hits: AtomicUsize,
}

impl FileServer {
    pub(crate) async fn start() -> Arc<FileServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Arc::new(FileServer {
            dir: tempfile::tempdir().unwrap(),
            base: format!("http://{}", listener.local_addr().unwrap()),
            down: AtomicBool::new(false),
            hits: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/{file}", get(serve_file))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        server
    }

    pub(crate) fn url(&self, file: &str) -> String {
        format!("{}/{file}", self.base)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Publishes `bytes` as `file`, produced `age` ago.
    pub(crate) fn publish(&self, file: &str, bytes: &[u8], age: Duration) {
        write_file(&self.path(file), bytes, age);
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8], age: Duration) {
    std::fs::write(path, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

async fn serve_file(
    State(server): State<Arc<FileServer>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    server.hits.fetch_add(1, Ordering::SeqCst);
    if server.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let path = server.path(&file);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let modified: DateTime<Utc> = std::fs::metadata(&path).unwrap().modified().unwrap().into();
    let etag = format!("\"{}\"", &sha256_hex(&bytes)[..16]);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::ETAG, etag),
            (
                header::LAST_MODIFIED,
                modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

fn zip(name: &str, files: &[&[u8]]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (i, bytes) in files.iter().enumerate() {
        w.start_file(format!("{i}-{name}"), options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// An app whose registries are configured by `vars` (TARCZA_REGISTRY_… pairs).
pub(crate) async fn app_with(vars: &[(&str, String)]) -> TestApp {
    let registries = from_vars(
        vars.iter()
            .map(|(k, v)| (format!("TARCZA_REGISTRY_{k}"), v.clone())),
    )
    .unwrap();
    TestApp::spawn_with(move |c: &mut Config| {
        c.registries = registries;
        c.sync_retry_delay = Duration::from_millis(10);
    })
    .await
}

pub(crate) async fn sync(app: &TestApp, registry: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/registries/{registry}/sync"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

pub(crate) async fn imports(app: &TestApp, registry: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/registries/{registry}/imports"), ADMIN_KEY)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["imports"].as_array().unwrap().clone()
}

pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// Waits (up to 20 s) until the registry's newest import satisfies `done`.
async fn wait_for_import(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(newest) = imports(app, "robinson").await.first() {
            if done(newest) {
                return newest.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no such import came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_registry_follows_its_http_source_and_a_truncated_file_cannot_wipe_it() {
    let server = FileServer::start().await;
    let app = app_with(&[("ROBINSON_SOURCE", server.url("robinson.csv"))]).await;
    let first = numbers(200, 0);
    server.publish("robinson.csv", &csv(&first), DAY);

    // Configured but not synced yet: fail closed.
    let r = app.check("600000001").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "not_ready");

    let done = sync(&app, "robinson").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["entries_after"], 200);
    assert_eq!(done["source"], server.url("robinson.csv"));
    assert!(done["duration_ms"].as_i64().unwrap() >= 0);
    assert!(!app.allowed("600000001").await);
    assert!(app.allowed("600000200").await);

    // Nothing new: a conditional GET, nothing imported.
    let again = sync(&app, "robinson").await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["entries_after"], 200);

    // A changed snapshot (gzip this time): the changes are applied.
    let mut changed = numbers(195, 0);
    changed.extend(numbers(10, 1000));
    server.publish("robinson.csv", &gzip(&csv(&changed)), Duration::ZERO);
    let done = sync(&app, "robinson").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["unchanged"], false);
    assert_eq!(done["entries_after"], 205);
    assert!(app.allowed("600000199").await);
    assert!(!app.allowed("600001009").await);

    // A truncated download removes 90% of the list: refused, the list stays.
    server.publish("robinson.csv", &csv(&changed[..20]), Duration::ZERO);
    let refused = sync(&app, "robinson").await;
    assert_eq!(refused["status"], "refused", "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("max_shrink"));
    assert!(!app.allowed("600000100").await);

    // Every run is on record, newest first, with its checksum.
    let list = imports(&app, "robinson").await;
    let statuses: Vec<&str> = list.iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["refused", "succeeded", "succeeded", "succeeded"]);
    assert_eq!(list[1]["checksum"].as_str().unwrap().len(), 64);
    let reg = app.get("/v1/registries/robinson", ADMIN_KEY).await.body;
    assert_eq!(reg["entries"], 205);
    assert_eq!(reg["source"], server.url("robinson.csv"));
    assert_eq!(reg["stale"], false);
    assert!(reg["fresh_until"].is_string(), "{reg}");
}

#[tokio::test]
async fn delta_zip_windows_1250_and_hashed_sources_are_read() {
    let server = FileServer::start().await;
    let app = app_with(&[
        ("PL_DELTA_SOURCE", server.url("delta.csv")),
        ("PL_DELTA_MODE", "delta".into()),
        ("PL_ZIP_SOURCE", server.url("export.zip")),
        ("PL_CP1250_SOURCE", server.url("cp1250.csv")),
        ("PL_CP1250_ENCODING", "windows-1250".into()),
        ("ES_SOURCE", server.url("es.txt")),
        ("ES_FORMAT", "sha256".into()),
        ("ES_HASH_SCHEME", "e164_plus".into()),
    ])
    .await;
    // 40 numbers, so that the next delta's removal stays within max_shrink (5%).
    let mut first_delta = String::from("numer;op\n501000001;A\n501000002;A\n");
    for i in 100..138 {
        first_delta.push_str(&format!("501000{i};A\n"));
    }
    server.publish("delta.csv", first_delta.as_bytes(), DAY);
    server.publish(
        "export.zip",
        &zip("lista.csv", &[&csv(&numbers(5, 50))]),
        DAY,
    );
    let (latin2, _, lossy) = encoding_rs::WINDOWS_1250.encode(
        "Numer telefonu;Imię i nazwisko\n502 000 001;Łukasz Żółć\n502 000 002;Zażółć Gęślą\n",
    );
    assert!(!lossy);
    server.publish("cp1250.csv", &latin2, DAY);
    // SHA-256 of "+48512345678" (printf %s +48512345678 | sha256sum).
    server.publish(
        "es.txt",
        b"499691ac10d7084a1f493549349aa389ddf4c6c4224fab1a6db57819e839e0f6\n",
        DAY,
    );
    for registry in ["pl_delta", "pl_zip", "pl_cp1250", "es"] {
        let done = sync(&app, registry).await;
        assert_eq!(done["status"], "succeeded", "{registry}: {done}");
        assert_eq!(done["rows_rejected"], 0, "{registry}: {done}");
    }
    assert!(!app.allowed("501000002").await);
    assert!(!app.allowed("600000054").await);
    assert!(!app.allowed("502000002").await);
    assert!(!app.allowed("512 345 678").await);
    assert!(app.allowed("512345679").await);

    // The next delta removes one number and adds another.
    server.publish(
        "delta.csv",
        b"numer;op\n501000002;D\n501000003;+\n",
        Duration::ZERO,
    );
    let done = sync(&app, "pl_delta").await;
    assert_eq!(done["entries_after"], 40, "{done}");
    assert!(app.allowed("501000002").await);
    assert!(!app.allowed("501000003").await);
    let r = app.check("512345678").await;
    let registries: Vec<&str> = r.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["registry"].as_str().unwrap())
        .collect();
    assert_eq!(registries, ["es"]);
}

#[tokio::test]
async fn a_source_that_is_down_leaves_the_current_data_serving() {
    let server = FileServer::start().await;
    let app = app_with(&[("ROBINSON_SOURCE", server.url("robinson.csv"))]).await;
    server.publish("robinson.csv", &csv(&numbers(10, 0)), DAY);
    sync(&app, "robinson").await;
    server.down.store(true, Ordering::SeqCst);
    let before = server.hits();
    let failed = sync(&app, "robinson").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert_eq!(server.hits() - before, 3, "retried with backoff");
    assert!(!app.allowed("600000003").await);

    // Nothing listening at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/robinson.csv", closed.local_addr().unwrap());
    drop(closed);
    let other = app_with(&[("ROBINSON_SOURCE", url)]).await;
    let failed = sync(&other, "robinson").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let r = other.check("600000003").await;
    assert_eq!(r.body["error"]["code"], "not_ready");
}

#[tokio::test]
async fn a_directory_source_imports_its_newest_file_once() {
    let dir = tempfile::tempdir().unwrap();
    write_file(
        &dir.path().join("2026-10.csv"),
        &csv(&numbers(10, 0)),
        2 * DAY,
    );
    write_file(&dir.path().join(".2026-12.csv.part"), b"60", Duration::ZERO);
    let app = app_with(&[("ROBINSON_SOURCE", dir.path().display().to_string())]).await;
    let done = sync(&app, "robinson").await;
    assert_eq!(done["entries_after"], 10, "{done}");
    let source_time: DateTime<Utc> = done["source_time"].as_str().unwrap().parse().unwrap();
    assert!(Utc::now() - source_time > chrono::Duration::hours(47));

    write_file(&dir.path().join("2026-11.csv"), &csv(&numbers(11, 0)), DAY);
    let done = sync(&app, "robinson").await;
    assert_eq!(done["entries_after"], 11, "{done}");
    assert_eq!(done["unchanged"], false);
    let again = sync(&app, "robinson").await;
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(again["rows_total"], 0, "not read again");
}

#[tokio::test]
async fn stale_data_fails_closed_unless_the_policy_is_warn() {
    let server = FileServer::start().await;
    server.publish("old.csv", &csv(&numbers(10, 0)), 40 * DAY);
    let blocking = app_with(&[("ROBINSON_SOURCE", server.url("old.csv"))]).await;
    sync(&blocking, "robinson").await;
    let r = blocking.check("600000001").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "stale_registry");
    let batch = blocking
        .post(
            "/v1/check",
            ADMIN_KEY,
            serde_json::json!({"numbers": ["600000001"]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::SERVICE_UNAVAILABLE);
    let reg = blocking
        .get("/v1/registries/robinson", ADMIN_KEY)
        .await
        .body;
    assert_eq!(reg["stale"], true, "{reg}");
    assert_eq!(reg["stale_policy"], "block");
    assert_eq!(reg["max_age_seconds"], 31 * 86_400);

    let warning = app_with(&[
        ("ROBINSON_SOURCE", server.url("old.csv")),
        ("ROBINSON_STALE_POLICY", "warn".into()),
        ("ROBINSON_MAX_AGE", "30d".into()),
    ])
    .await;
    sync(&warning, "robinson").await;
    let r = warning.check("600000001").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["allowed"], false);
    assert_eq!(r.body["warnings"][0]["code"], "stale_registry");
    assert_eq!(r.body["warnings"][0]["registry"], "robinson");
    let batch = warning
        .post(
            "/v1/check",
            ADMIN_KEY,
            serde_json::json!({"numbers": ["600000001"]}),
        )
        .await;
    assert_eq!(batch.body["warnings"][0]["code"], "stale_registry");

    // Fresh data carries no warnings at all. (The same content published again would not
    // do: data is as old as when it was produced.)
    server.publish("old.csv", &csv(&numbers(11, 0)), Duration::ZERO);
    sync(&warning, "robinson").await;
    let r = warning.check("600000001").await;
    assert!(r.body.get("warnings").is_none(), "{}", r.body);
}

#[tokio::test]
async fn two_replicas_sharing_a_database_sync_once() {
    let server = FileServer::start().await;
    server.publish("robinson.csv", &csv(&numbers(10, 0)), DAY);
    let app = app_with(&[
        ("ROBINSON_SOURCE", server.url("robinson.csv")),
        ("ROBINSON_INTERVAL", "1h".into()),
    ])
    .await;
    let replica = app.replica().await;

    // Only one session can hold the scheduler's lock; it is free again once released.
    let first = SessionLock::try_leadership(&app.state.db)
        .await
        .unwrap()
        .expect("free");
    assert!(SessionLock::try_leadership(&replica.state.db)
        .await
        .unwrap()
        .is_none());
    first.release().await;

    let shutdown = CancellationToken::new();
    let a = tokio::spawn(sync::schedule(app.state.jobs(), shutdown.clone()));
    let b = tokio::spawn(sync::schedule(replica.state.jobs(), shutdown.clone()));
    wait_for_import(&app, |i| i["status"] == "succeeded").await;
    // Each loop finishes the pass it is in before it sees the cancellation, so both have
    // tried to lead (and the winner has synced) by the time they are joined.
    shutdown.cancel();
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(imports(&app, "robinson").await.len(), 1);
    assert_eq!(server.hits(), 1);
    // Whichever replica synced, both serve the data once they have caught up (in
    // `serve`, the change follower does this on the NOTIFY).
    for state in [&app.state, &replica.state] {
        state.index.refresh(&state.db).await.unwrap();
    }
    assert!(!replica.allowed("600000005").await);
    assert!(!app.allowed("600000005").await);
}

#[tokio::test]
async fn the_schedule_syncs_at_once_and_again_after_its_interval() {
    // Real time, not paused: the sync does real network and database I/O, during which
    // a paused clock would jump to the next timer and fire the HTTP and pool timeouts.
    let server = FileServer::start().await;
    server.publish("robinson.csv", &csv(&numbers(10, 0)), DAY);
    let app = app_with(&[
        ("ROBINSON_SOURCE", server.url("robinson.csv")),
        ("ROBINSON_INTERVAL", "1s".into()),
    ])
    .await;
    let shutdown = CancellationToken::new();
    let scheduler = tokio::spawn(sync::schedule(app.state.jobs(), shutdown.clone()));
    let first = wait_for_import(&app, |i| i["status"] == "succeeded").await;
    assert_eq!(first["entries_after"], 10, "{first}");

    server.publish("robinson.csv", &csv(&numbers(11, 0)), Duration::ZERO);
    let second = wait_for_import(&app, |i| i["entries_after"] == 11).await;
    assert_eq!(second["unchanged"], false, "{second}");
    shutdown.cancel();
    scheduler.await.unwrap();
    app.state.index.refresh(&app.state.db).await.unwrap();
    assert!(!app.allowed("600000010").await);
}

#[tokio::test]
async fn syncing_needs_the_ops_role_and_a_source() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/v1/registries/robinson/sync", ADMIN_KEY, Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "no_source");
    let agent = app.key(tarcza::domain::Role::Agent).await;
    let r = app
        .post("/v1/registries/robinson/sync", &agent, Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Unconfigured and empty: the registry does not gate checks.
    assert!(app.allowed("601234567").await);
}
