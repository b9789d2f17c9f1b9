//! A write that was made is never answered as not made: when this process's snapshot
//! refresh after the commit is slow, the answer is the stored result with a warning, not
//! `408 … nothing was changed`; and a timeout while a change is being written says the
//! outcome is unknown.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::time_until;

const TIMEOUT: Duration = Duration::from_millis(600);

/// Holds `LOCK TABLE <table>` in an open transaction until dropped or released.
async fn lock(db: &PgPool, table: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = db.begin().await.unwrap();
    sqlx::query(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

fn assert_stored_not_yet_visible(what: &str, r: &crate::helpers::Response, status: StatusCode) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    let warning = &r.body["warnings"][0];
    assert_eq!(warning["code"], "not_yet_visible", "{what}: {}", r.body);
    let message = warning["message"].as_str().unwrap();
    assert!(message.contains("TARCZA_MAX_SNAPSHOT_LAG"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_write_whose_refresh_is_slow_is_answered_with_what_was_stored() {
    let app = TestApp::spawn_with(|c| c.request_timeout = TIMEOUT).await;
    let old = app.block("602234567").await;
    let dialer = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "old dialer", "role": "dialer"}),
        )
        .await;
    assert_eq!(dialer.status, StatusCode::CREATED);

    // The refresh after each write reads `registries` once the version moved: it waits.
    let held = lock(&app.state.db, "registries").await;

    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "reason": "said stop"}),
        )
        .await;
    assert_stored_not_yet_visible("add", &r, StatusCode::CREATED);
    assert_eq!(r.body["number"], "+48601234567");
    assert_eq!(r.body["active"], true);
    let added = r.body["id"].clone();

    let r = app
        .delete(
            &format!("/v1/dnc/{}", old["id"]),
            ADMIN_KEY,
            json!({"reason": "wrong number"}),
        )
        .await;
    assert_stored_not_yet_visible("remove", &r, StatusCode::OK);
    assert_eq!(r.body["active"], false);

    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "dialer", "role": "dialer"}),
        )
        .await;
    assert_stored_not_yet_visible("key", &r, StatusCode::CREATED);
    let key = r.body["key"].as_str().unwrap().to_string();

    let r = app
        .delete(
            &format!("/v1/keys/{}", dialer.body["id"]),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_stored_not_yet_visible("revoke", &r, StatusCode::OK);
    assert!(r.body["revoked_at"].is_string());

    // All of it is in the database.
    let active: Vec<(i64, bool)> = sqlx::query_as("SELECT id, active FROM dnc_entries ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        active,
        [
            (old["id"].as_i64().unwrap(), false),
            (added.as_i64().unwrap(), true)
        ]
    );

    // Once the refresh can finish, this process serves it, with nobody calling refresh.
    held.rollback().await.unwrap();
    time_until(
        Duration::from_secs(5),
        "the new entry blocks, the removed one not",
        || async { !app.allowed("601234567").await && app.allowed("602234567").await },
    )
    .await;
    let r = app.get("/v1/check?number=601234567", &key).await;
    assert_eq!(r.status, StatusCode::OK, "the new key works: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_while_a_change_is_written_does_not_claim_nothing_changed() {
    let app = TestApp::spawn_with(|c| c.request_timeout = TIMEOUT).await;

    // The transaction cannot get its lock: rolled back at the timeout, but a commit could
    // have been under way, so the answer does not promise that nothing changed.
    let held = lock(&app.state.db, "dnc_entries").await;
    let r = app
        .post("/v1/dnc", ADMIN_KEY, json!({"number": "601234567"}))
        .await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "outcome_unknown");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("nothing was changed"), "{message}");
    assert!(message.contains("may have been made"), "{message}");

    // A read that times out changed nothing, and says so.
    let r = app.get("/v1/dnc?number=601234567", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "request_timeout");
    held.rollback().await.unwrap();

    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 0, "the timed-out transaction was rolled back");
    let r = app
        .post("/v1/dnc", ADMIN_KEY, json!({"number": "601234567"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "repeating it is safe: {}",
        r.body
    );
    assert!(r.body.get("warnings").is_none(), "{}", r.body);
}
