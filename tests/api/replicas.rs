//! Two real `tarcza` processes on one database.

use std::time::Duration;

use serde_json::json;

use crate::helpers::TestApp;
use crate::net::{csv_numbers, time_until, Tarcza};

const WITHIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_agree_within_a_second() {
    let app = TestApp::spawn().await;
    let a = Tarcza::start(&app.db_url).await;
    let b = Tarcza::start(&app.db_url).await;

    // An entry added through A blocks on B.
    let r = a
        .call(
            "POST",
            "/v1/dnc",
            Some(&json!({"number": "601234567", "reason": "customer asked"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(
        !a.allowed("601234567").await,
        "the writer sees its write at once"
    );
    let took = time_until(WITHIN, "B blocks the new entry", || async {
        !b.allowed("601234567").await
    })
    .await;
    println!("add reached the other process in {took:?}");

    // Deleted through A: B unblocks.
    let id = r.body["id"].as_i64().unwrap();
    let r = a
        .call(
            "DELETE",
            &format!("/v1/dnc/{id}"),
            Some(&json!({"reason": "wrong number"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    time_until(WITHIN, "B unblocks the deleted entry", || async {
        b.allowed("601234567").await
    })
    .await;

    // A registry import through A is served by both.
    let r = a.upload("", &csv_numbers(1000, 0)).await;
    assert_eq!(r.body["status"], "succeeded", "{:?}", r.body);
    assert!(!a.allowed("600000999").await);
    time_until(WITHIN, "B serves the imported registry", || async {
        !b.allowed("600000999").await
    })
    .await;
    assert!(b.allowed("600001000").await);

    // A key revoked through A stops working on B.
    let r = a
        .call(
            "POST",
            "/v1/keys",
            Some(&json!({"name": "dialer", "role": "dialer"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let key = r.body["key"].as_str().unwrap().to_string();
    let key_id = r.body["id"].as_i64().unwrap();
    time_until(WITHIN, "B accepts the new key", || async {
        b.allowed_with("601234567", &key).await.is_ok()
    })
    .await;
    let r = a
        .call("DELETE", &format!("/v1/keys/{key_id}"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(a.allowed_with("601234567", &key).await, Err(401));
    time_until(WITHIN, "B refuses the revoked key", || async {
        b.allowed_with("601234567", &key).await == Err(401)
    })
    .await;
}

/// A change committed without its NOTIFY (as when a notification is lost) still reaches
/// every process through the periodic reconciliation (TARCZA_RECONCILE_INTERVAL = 1s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_notification_heals_by_reconciliation() {
    let app = TestApp::spawn().await;
    let a = Tarcza::start(&app.db_url).await;
    let b = Tarcza::start(&app.db_url).await;
    assert!(a.allowed("502234567").await && b.allowed("502234567").await);

    let mut tx = app.state.db.begin().await.unwrap();
    let version: i64 =
        sqlx::query_scalar("UPDATE data_version SET version = version + 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO dnc_entries (number, reason, version) VALUES (48502234567, 'silent', $1)",
    )
    .bind(version)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    for (name, p) in [("A", &a), ("B", &b)] {
        let took = time_until(Duration::from_secs(3), name, || async {
            !p.allowed("502234567").await
        })
        .await;
        println!("{name} healed in {took:?} without a notification");
    }
}
