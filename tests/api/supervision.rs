//! A process that cannot keep its snapshot current must not keep answering from it:
//! bad intervals are refused at start-up, background jobs are restarted, and a snapshot
//! not confirmed for longer than TARCZA_MAX_SNAPSHOT_LAG fails closed.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{binary, free_port, time_until, Tarcza};

/// Commits a do-not-call entry straight into the database, as another replica would.
async fn add_elsewhere(db: &sqlx::PgPool, number: i64) {
    let mut tx = db.begin().await.unwrap();
    let version: i64 =
        sqlx::query_scalar("UPDATE data_version SET version = version + 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    sqlx::query("INSERT INTO dnc_entries (number, reason, version) VALUES ($1, 'elsewhere', $2)")
        .bind(number)
        .bind(version)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify('tarcza_changes', $1)")
        .bind(version.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_or_too_short_interval_is_refused_at_start_up() {
    let app = TestApp::spawn().await;
    let addr = free_port().await;
    for (env, named) in [
        (
            vec![("TARCZA_RECONCILE_INTERVAL", "0ms")],
            "reconcile-interval",
        ),
        (vec![("TARCZA_MAX_SNAPSHOT_LAG", "0s")], "max-snapshot-lag"),
        (
            vec![
                ("TARCZA_RECONCILE_INTERVAL", "2s"),
                ("TARCZA_MAX_SNAPSHOT_LAG", "1s"),
            ],
            "TARCZA_MAX_SNAPSHOT_LAG",
        ),
    ] {
        let mut child = Command::new(binary())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.db_url)
            .env("TARCZA_BIND", addr.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("{env:?}: tarcza started instead of refusing the setting");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{env:?}");
        assert!(stderr.contains(named), "{env:?}: {stderr}");
    }
}

/// The follower blocks on a lock (a hung refresh), then fails on every attempt with the
/// database reachable (a refresh that errors): both times /check and /readyz answer 503
/// stale_snapshot once TARCZA_MAX_SNAPSHOT_LAG has passed, and recover on their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_cannot_follow_the_database_fails_closed_after_the_lag() {
    let app = TestApp::spawn().await;
    let lag = Duration::from_secs(1);
    let p = Tarcza::start_with(
        &app.db_url,
        &[
            ("TARCZA_RECONCILE_INTERVAL", "100ms"),
            ("TARCZA_MAX_SNAPSHOT_LAG", "1s"),
        ],
    )
    .await;
    assert!(p.allowed("601234567").await);

    // 1. A refresh that hangs: it reads `registries` after a change, which is locked.
    let mut lock = app.state.db.begin().await.unwrap();
    sqlx::query("LOCK TABLE registries IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    add_elsewhere(&app.state.db, 48601234567).await;
    let took = time_until(
        lag * 5,
        "/check refuses from the stuck snapshot",
        || async { p.allowed_with("601234567", ADMIN_KEY).await == Err(503) },
    )
    .await;
    // Counted from the last confirmation (at most one 100 ms tick before the lock).
    assert!(took >= lag / 2, "not at once, only after the lag: {took:?}");
    let r = p
        .call("GET", "/v1/check?number=601234567", None)
        .await
        .unwrap();
    assert_eq!(r.body["error"]["code"], "stale_snapshot", "{:?}", r.body);
    let r = p.call("GET", "/readyz", None).await.unwrap();
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["status"], "stale_snapshot");
    let r = p
        .call(
            "POST",
            "/v1/check",
            Some(&serde_json::json!({"numbers": ["601234567"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{:?}", r.body);

    lock.rollback().await.unwrap();
    time_until(lag * 5, "the process catches up and blocks", || async {
        p.allowed_with("601234567", ADMIN_KEY).await == Ok(false)
    })
    .await;
    let r = p.call("GET", "/readyz", None).await.unwrap();
    assert_eq!(r.body["status"], "ready", "{:?}", r.body);

    // 2. A refresh that fails although the database answers. (Renaming a table takes its
    // owner: the service's own role may not.)
    let owner = tarcza::db::connect(&app.owner_url).await.unwrap();
    sqlx::query("ALTER TABLE data_version RENAME TO data_version_gone")
        .execute(&owner)
        .await
        .unwrap();
    time_until(lag * 5, "/check refuses while refreshes fail", || async {
        p.allowed_with("601234567", ADMIN_KEY).await == Err(503)
    })
    .await;
    let r = p.call("GET", "/readyz", None).await.unwrap();
    assert_eq!(r.body["status"], "stale_snapshot", "{:?}", r.body);
    assert_eq!(r.body["database"]["ok"], false);
    sqlx::query("ALTER TABLE data_version_gone RENAME TO data_version")
        .execute(&owner)
        .await
        .unwrap();
    time_until(lag * 5, "answers again", || async {
        p.allowed_with("601234567", ADMIN_KEY).await == Ok(false)
    })
    .await;
}

/// The change follower, run as `serve` runs it, panics the first two times it starts;
/// the supervisor starts it again and changes made elsewhere still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_follower_that_panics_is_restarted() {
    let app = TestApp::spawn().await;
    let shutdown = CancellationToken::new();
    let starts = Arc::new(AtomicU32::new(0));
    let supervisor = tokio::spawn(tarcza::jobs::supervise(
        "change follower",
        shutdown.clone(),
        {
            let (state, shutdown, starts) = (app.state.clone(), shutdown.clone(), starts.clone());
            move || {
                let n = starts.fetch_add(1, Ordering::SeqCst);
                let follow = tarcza::jobs::changes::follow(
                    state.db.clone(),
                    state.index.clone(),
                    Duration::from_millis(100),
                    shutdown.clone(),
                );
                async move {
                    if n < 2 {
                        panic!("injected failure {n}");
                    }
                    follow.await
                }
            }
        },
    ));
    add_elsewhere(&app.state.db, 48601234567).await;
    time_until(
        Duration::from_secs(3),
        "the restarted follower applies the change",
        || async { !app.allowed("601234567").await },
    )
    .await;
    assert_eq!(starts.load(Ordering::SeqCst), 3);
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    shutdown.cancel();
    supervisor.await.unwrap();
}
