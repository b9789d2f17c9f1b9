//! Postgres stops after start-up and comes back. Uses a cluster of its own: the shared
//! test cluster must stay up for every other test.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;
use tarcza::config::{Config, Settings};
use tarcza::db::Database;
use tarcza::embedded::{EmbeddedPostgres, Options, SERVING_ROLE};
use tarcza::http::AppState;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::time_until;

async fn start_cluster(dir: std::path::PathBuf) -> EmbeddedPostgres {
    tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start_with(&dir, Options { fsync: false })
    })
    .await
    .unwrap()
    .expect("own embedded cluster")
}

async fn stop_cluster(mut pg: EmbeddedPostgres) {
    tokio::task::spawn_blocking(move || {
        pg.stop().expect("stop PostgreSQL");
        drop(pg); // releases the data directory's lock, so it can be started again
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_keeps_checks_answering_and_writes_refused_cleanly() {
    let dir = std::env::temp_dir().join(format!("tarcza-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pg = start_cluster(dir.clone()).await;
    let url = pg.serving_url("tarcza");
    tarcza::store::schema::create_database(&pg.url("postgres"), "tarcza")
        .await
        .unwrap();
    tarcza::store::roles::create_serving_role(&pg.url("postgres"), SERVING_ROLE, None)
        .await
        .unwrap();
    let database = Database::connect(&url, Some(&pg.url("tarcza")))
        .await
        .unwrap();
    let mut config = Config::defaults();
    config.bootstrap_admin_key = Some(ADMIN_KEY.into());
    tarcza::prepare(&database, &config).await.unwrap();
    let state = AppState::new(database.pool.clone(), Settings::from(&config));
    state.index.refresh(&state.db).await.unwrap();
    let app = TestApp::with_state(state.clone(), url.clone());
    let shutdown = CancellationToken::new();
    let follower = tokio::spawn(tarcza::jobs::changes::follow(
        state.db.clone(),
        state.index.clone(),
        Duration::from_millis(200),
        shutdown.clone(),
    ));

    app.block("601234567").await;
    let r = app
        .upload("robinson", "", b"501234567\n502234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);

    // Postgres goes away.
    stop_cluster(pg).await;

    // Checks keep answering, from memory, correctly, with zero errors.
    let mut answered = 0;
    for i in 0..300 {
        let (number, blocked) = match i % 3 {
            0 => ("601234567", true),
            1 => ("501234567", true),
            _ => ("603234567", false),
        };
        assert_eq!(
            app.allowed(number).await,
            !blocked,
            "{number} during the outage"
        );
        answered += 1;
    }
    // Readiness says degraded, and why, but stays 200 (checks are still served).
    time_until(Duration::from_secs(10), "readyz degraded", || async {
        let r = app.call(Method::GET, "/readyz", None, None).await;
        r.status == StatusCode::OK && r.body["status"] == "degraded"
    })
    .await;
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.body["database"]["ok"], false);
    assert!(!r.body["database"]["error"].as_str().unwrap().is_empty());

    // Writes: a quick, clear 503, nothing half-written.
    let started = Instant::now();
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "604234567", "reason": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "database_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let r = app
        .delete("/v1/dnc/1", ADMIN_KEY, json!({"reason": "x"}))
        .await;
    assert_eq!(
        r.body["error"]["code"], "database_unavailable",
        "{}",
        r.body
    );
    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "k", "role": "dialer"}),
        )
        .await;
    assert_eq!(
        r.body["error"]["code"], "database_unavailable",
        "{}",
        r.body
    );
    let r = app.upload("robinson", "", b"505234567\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    // Still answering after the failed writes.
    assert!(!app.allowed("601234567").await);
    answered += 1;

    // Postgres comes back: tarcza reconnects on its own.
    let pg = start_cluster(dir.clone()).await;
    time_until(Duration::from_secs(15), "readyz ready again", || async {
        let r = app.call(Method::GET, "/readyz", None, None).await;
        r.body["status"] == "ready"
    })
    .await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "605234567", "reason": "y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!app.allowed("605234567").await);
    // And catches up with changes made elsewhere (another replica on the database).
    let other = app.replica().await;
    other.block("606234567").await;
    time_until(
        Duration::from_secs(2),
        "change from the other replica",
        || async { !app.allowed("606234567").await },
    )
    .await;

    // Nothing of the refused writes exists.
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT number FROM dnc_entries ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(numbers, [48601234567, 48605234567, 48606234567]);
    let adds: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'dnc.add'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(adds, 3);
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(keys, 1, "only the bootstrap key");
    let imports: i64 = sqlx::query_scalar("SELECT count(*) FROM imports")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(imports, 1);
    println!("{answered} checks answered during the outage, 0 errors");

    shutdown.cancel();
    follower.await.unwrap();
    other.state.db.close().await;
    app.state.db.close().await;
    stop_cluster(pg).await;
    let _ = std::fs::remove_dir_all(&dir);
}
