//! The change feed: every list change in commit order behind an opaque cursor, a long
//! poll, expiries as they pass, and retention.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tarcza::domain::{ChangeAction, Cursor, Role};
use tarcza::store::changes::{self, NewChange};

use crate::helpers::{csv, numbers, TestApp, ADMIN_KEY};

/// The same service (state, snapshot, database) for another task.
pub fn twin(app: &TestApp) -> TestApp {
    TestApp::with_state(app.state.clone(), app.db_url.clone())
}

/// Every change after `after` (all pages), and the cursor after the last.
pub async fn feed(app: &TestApp, key: &str, after: &str) -> (Vec<Value>, String) {
    let mut all = Vec::new();
    let mut cursor = after.to_string();
    loop {
        let uri = if cursor.is_empty() {
            "/v1/changes?limit=50".to_string()
        } else {
            format!("/v1/changes?after={cursor}&limit=50")
        };
        let r = app.get(&uri, key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        all.extend(r.body["changes"].as_array().unwrap().iter().cloned());
        cursor = r.body["next"].as_str().unwrap().to_string();
        if !r.body["more"].as_bool().unwrap() {
            return (all, cursor);
        }
    }
}

#[tokio::test]
async fn every_list_change_is_in_the_feed_in_commit_order_with_who_and_why() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let dialer = app.key(Role::Dialer).await;
    let soon = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let later = (Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let added = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": "601 234 567", "client": "Acme", "reason": "said stop",
                   "source": "agent", "expires_at": soon}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let id = added.body["id"].as_i64().unwrap();
    // The same again, for longer: an extension.
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": "601234567", "client": "ACME", "expires_at": later}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same again, shorter: nothing changes, nothing in the feed.
    app.post(
        "/v1/dnc",
        &agent,
        json!({"number": "601234567", "client": "acme", "expires_at": soon}),
    )
    .await;
    let r = app
        .delete(
            &format!("/v1/dnc/{id}"),
            ADMIN_KEY,
            json!({"reason": "wrong number"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.upload("robinson", "", csv(&numbers(10, 0))).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);

    let (changes, next) = feed(&app, &dialer, "").await;
    let actions: Vec<&str> = changes
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["dnc.add", "dnc.extend", "dnc.remove", "registry.import"]
    );
    let add = &changes[0];
    assert_eq!(add["number"], "+48601234567");
    assert_eq!(add["entry_id"], id);
    assert_eq!(add["scope"], "client");
    assert_eq!(add["client"], "Acme");
    assert_eq!(add["reason"], "said stop");
    assert_eq!(add["source"], "agent");
    assert_eq!(add["actor"]["role"], "agent");
    assert!(add["at"].is_string() && add["expires_at"].is_string());
    assert_eq!(
        changes[1]["expires_at"].as_str().unwrap()[..16],
        later[..16]
    );
    assert_eq!(changes[2]["reason"], "wrong number", "a removal says why");
    assert_eq!(changes[2]["actor"]["role"], "admin");
    assert_eq!(changes[3]["registry"], "robinson");
    assert_eq!(changes[3]["entries"], 10);
    assert_eq!(next, changes[3]["id"].as_str().unwrap());
    // Cursors are opaque text that sorts as the feed does.
    let ids: Vec<&str> = changes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A reader that stored `next` gets only what is new.
    let (none, same) = feed(&app, &dialer, &next).await;
    assert!(none.is_empty());
    assert_eq!(same, next);
    app.block("501234567").await;
    let (new, next) = feed(&app, &dialer, &next).await;
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["number"], "+48501234567");
    // A range block carries its prefix instead of a number.
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"prefix": "+48 70", "reason": "premium"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (new, _) = feed(&app, &dialer, &next).await;
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["action"], "dnc.add");
    assert_eq!(new[0]["prefix"], "+4870");
    assert_eq!(new[0]["number"], Value::Null);
    assert_eq!(new[0]["scope"], "global");
}

#[tokio::test]
async fn the_feed_reads_its_parameters_strictly() {
    let app = TestApp::spawn().await;
    let r = app.get("/v1/changes?after=latest", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changes"], json!([]));
    let head = r.body["next"].as_str().unwrap().to_string();
    app.block("601234567").await;
    let r = app
        .get(&format!("/v1/changes?after={head}"), ADMIN_KEY)
        .await;
    assert_eq!(r.body["changes"].as_array().unwrap().len(), 1, "{}", r.body);
    for (query, code) in [
        ("after=12", "invalid_cursor"),
        ("limit=0", "invalid_parameter"),
        ("limit=1001", "invalid_parameter"),
        ("wait=soon", "invalid_parameter"),
        ("cursor=1", "unknown_parameter"),
    ] {
        let r = app.get(&format!("/v1/changes?{query}"), ADMIN_KEY).await;
        assert!(r.status.is_client_error(), "{query}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{query}");
    }
    let r = app
        .call(axum::http::Method::GET, "/v1/changes", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_returns_as_soon_as_a_change_lands() {
    let app = TestApp::spawn().await;
    let head = app.get("/v1/changes?after=latest", ADMIN_KEY).await.body["next"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let poll = {
        let app = twin(&app);
        let uri = format!("/v1/changes?after={head}&wait=20s");
        tokio::spawn(async move { app.get(&uri, ADMIN_KEY).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poll.is_finished(), "the poll waits while nothing is new");
    app.block("601234567").await;
    let r = poll.await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changes"][0]["number"], "+48601234567");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    // With nothing new, it answers empty when the wait is over.
    let next = r.body["next"].as_str().unwrap();
    let started = Instant::now();
    let r = app
        .get(&format!("/v1/changes?after={next}&wait=1s"), ADMIN_KEY)
        .await;
    assert_eq!(r.body["changes"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// The hazard the cursor is built against, shown on a plain `bigserial` table, then the
/// same interleaving through the feed's write path: there the later writer cannot commit
/// before the earlier one, so a reader at its cursor never skips a change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_at_its_cursor_never_skips_a_change_committed_out_of_id_order() {
    let app = TestApp::spawn().await;
    let connect = || async { PgConnection::connect(&app.db_url).await.unwrap() };

    // Control: with a serial id as the cursor, A (id 1) commits after B (id 2), and a
    // reader that saw B has moved past A for good.
    sqlx::query("CREATE TABLE serial_feed (id bigserial PRIMARY KEY, what text)")
        .execute(&app.state.db)
        .await
        .unwrap();
    let (mut a, mut b, mut reader) = (connect().await, connect().await, connect().await);
    let mut ta = a.begin().await.unwrap();
    sqlx::query("INSERT INTO serial_feed (what) VALUES ('A')")
        .execute(&mut *ta)
        .await
        .unwrap();
    let mut tb = b.begin().await.unwrap();
    sqlx::query("INSERT INTO serial_feed (what) VALUES ('B')")
        .execute(&mut *tb)
        .await
        .unwrap();
    tb.commit().await.unwrap();
    let seen: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, what FROM serial_feed WHERE id > 0 ORDER BY id")
            .fetch_all(&mut reader)
            .await
            .unwrap();
    assert_eq!(seen, [(2, "B".to_string())]);
    ta.commit().await.unwrap();
    let after: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, what FROM serial_feed WHERE id > 2 ORDER BY id")
            .fetch_all(&mut reader)
            .await
            .unwrap();
    assert!(after.is_empty(), "the serial cursor skipped A for good");

    // The feed: A takes the data version and writes its change, not committed yet.
    let start = feed(&app, ADMIN_KEY, "").await.1;
    let mut ta = a.begin().await.unwrap();
    let va = tarcza::store::bump_version(&mut ta).await.unwrap();
    let change = |n: u64| NewChange {
        number: Some(n),
        reason: Some("test"),
        ..NewChange::default()
    };
    changes::record(&mut ta, va, ChangeAction::DncAdd, change(48_601_000_001))
        .await
        .unwrap();
    // B starts its own change: it waits for A's version lock, so it cannot commit first.
    let writer_b = tokio::spawn(async move {
        let mut tb = b.begin().await.unwrap();
        let vb = tarcza::store::bump_version(&mut tb).await.unwrap();
        changes::record(&mut tb, vb, ChangeAction::DncAdd, change(48_601_000_002))
            .await
            .unwrap();
        tb.commit().await.unwrap();
        vb
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!writer_b.is_finished(), "B waits for A");
    let (seen, cursor) = feed(&app, ADMIN_KEY, &start).await;
    assert!(seen.is_empty(), "nothing committed yet: {seen:?}");
    ta.commit().await.unwrap();
    let vb = writer_b.await.unwrap();
    assert!(vb > va);
    let (seen, _) = feed(&app, ADMIN_KEY, &cursor).await;
    let numbers: Vec<&str> = seen.iter().map(|c| c["number"].as_str().unwrap()).collect();
    assert_eq!(
        numbers,
        ["+48601000001", "+48601000002"],
        "A, then B: none skipped"
    );
}

/// Many writers at once (adds and removals) and a reader following the feed a
/// few changes at a time: the reader sees every change exactly once, in the order of
/// the table's (version, seq).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_never_make_a_following_reader_skip_or_repeat_a_change() {
    let app = TestApp::spawn().await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (app, done) = (twin(&app), done.clone());
        tokio::spawn(async move {
            let mut cursor = String::new();
            let mut seen: Vec<String> = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let uri = if cursor.is_empty() {
                    "/v1/changes?limit=7".to_string()
                } else {
                    format!("/v1/changes?after={cursor}&limit=7")
                };
                let r = app.get(&uri, ADMIN_KEY).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                for c in r.body["changes"].as_array().unwrap() {
                    seen.push(c["id"].as_str().unwrap().to_string());
                }
                cursor = r.body["next"].as_str().unwrap().to_string();
                if finished && !r.body["more"].as_bool().unwrap() {
                    return seen;
                }
            }
        })
    };
    let writers = (0..6u64).map(|w| {
        let app = twin(&app);
        tokio::spawn(async move {
            for i in 0..25u64 {
                let number = format!("60{w}{i:06}");
                let r = app
                    .post(
                        "/v1/dnc",
                        ADMIN_KEY,
                        json!({"number": number, "client": format!("c{w}")}),
                    )
                    .await;
                assert!(r.status.is_success(), "{}", r.body);
                if i % 5 == 0 {
                    let id = r.body["id"].as_i64().unwrap();
                    app.delete(
                        &format!("/v1/dnc/{id}"),
                        ADMIN_KEY,
                        json!({"reason": "test"}),
                    )
                    .await;
                }
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let all: Vec<(i64, i32)> =
        sqlx::query_as("SELECT version, seq FROM changes ORDER BY version, seq")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    let expected: Vec<String> = all
        .iter()
        .map(|&(version, seq)| Cursor { version, seq }.to_string())
        .collect();
    assert_eq!(expected.len(), 6 * 25 + 6 * 5);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no change seen twice");
    assert_eq!(seen, expected, "every change, in commit order");
}

#[tokio::test]
async fn an_expiry_taking_effect_is_a_change_recorded_once() {
    let app = TestApp::spawn().await;
    let expires = Utc::now() + chrono::Duration::milliseconds(1200);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "reason": "for a while", "expires_at": expires}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ctx = app.state.jobs();
    let upkeep = tarcza::jobs::feed::run_once(&ctx, false).await.unwrap();
    assert_eq!(upkeep.expiries, 0, "not expired yet");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let upkeep = tarcza::jobs::feed::run_once(&ctx, false).await.unwrap();
    assert_eq!(upkeep.expiries, 1);
    let upkeep = tarcza::jobs::feed::run_once(&ctx, false).await.unwrap();
    assert_eq!(upkeep.expiries, 0, "recorded once");
    let (changes, _) = feed(&app, ADMIN_KEY, "").await;
    let actions: Vec<&str> = changes
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["dnc.add", "dnc.expire"]);
    assert_eq!(changes[1]["entry_id"], r.body["id"]);
    assert_eq!(changes[1]["actor"], Value::Null, "the service itself");
    // A re-add after the expiry closes the old entry; its expiry is not recorded again.
    app.block("601234567").await;
    let upkeep = tarcza::jobs::feed::run_once(&ctx, false).await.unwrap();
    assert_eq!(upkeep.expiries, 0);
}

#[tokio::test]
async fn old_changes_are_removed_only_through_the_owners_function_and_a_stale_cursor_is_told() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let (old, old_cursor) = feed(&app, ADMIN_KEY, "").await;
    assert_eq!(old.len(), 1);
    app.block("501234567").await;
    // The service cannot delete from the feed itself.
    let e = sqlx::query("DELETE FROM changes")
        .execute(&app.state.db)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    // Nor make the function remove recent history.
    let e = changes::prune(&app.state.db, Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 7 days"), "{e}");
    // The first change is made 40 days old (as the owner: the service cannot).
    let mut owner = PgConnection::connect(&app.owner_url).await.unwrap();
    sqlx::query("UPDATE changes SET at = now() - interval '40 days' WHERE number = 48601234567")
        .execute(&mut owner)
        .await
        .unwrap();
    let pruned = changes::prune(&app.state.db, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let (left, _) = feed(&app, ADMIN_KEY, "").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["number"], "+48501234567");
    // A reader still before the removed history is told, not silently skipped.
    let r = app
        .get(
            &format!("/v1/changes?after={}", Cursor { version: 1, seq: 0 }),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(r.status, StatusCode::GONE, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "cursor_expired");
    // One past it (it read the removed change) goes on as usual.
    let r = app
        .get(&format!("/v1/changes?after={old_cursor}"), ADMIN_KEY)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changes"].as_array().unwrap().len(), 1);
}
