use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::helpers::{csv, gzip, numbers, TestApp, ADMIN_KEY};

async fn import_status(app: &TestApp, id: &Value) -> Value {
    let r = app
        .get(&format!("/v1/registries/robinson/imports/{id}"), ADMIN_KEY)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

#[tokio::test]
async fn a_real_world_export_is_read_with_line_numbered_rejects() {
    let app = TestApp::spawn().await;
    let mut file = "\u{feff}Lp;Numer telefonu;Telefon\r\n".to_string();
    file.push_str("1;x;601 234 567\r\n");
    file.push_str("2;x;+48 501-234-567\r\n");
    file.push_str("\r\n");
    file.push_str("3;x;601234567\r\n"); // duplicate: not a reject
    file.push_str("4;x;=cmd|' /C calc'!A0\r\n");
    file.push_str("5;x;(22) 123 45 67\r\n");
    file.push_str("6;x;12\r\n");
    let r = app
        .upload("robinson", "max_reject_rate=0.5", file.into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["status"], "succeeded", "{b}");
    assert_eq!(b["rows_total"], 6);
    assert_eq!(b["rows_accepted"], 4);
    assert_eq!(b["rows_rejected"], 2);
    assert_eq!(b["rows_duplicate"], 1);
    assert_eq!(b["entries_after"], 3);
    let rejects = b["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], 6);
    assert_eq!(rejects[0]["raw"], "4;x;=cmd|' /C calc'!A0");
    assert_eq!(rejects[1]["line"], 8);
    assert!(rejects[1]["reason"].is_string());

    assert!(!app.allowed("601234567").await);
    assert!(!app.allowed("+48221234567").await);
    assert!(app.allowed("602234567").await);

    let same = import_status(&app, &b["id"]).await;
    assert_eq!(same["status"], "succeeded");
    assert_eq!(same["rejects"].as_array().unwrap().len(), 2);
    let reg = app.get("/v1/registries/robinson", ADMIN_KEY).await;
    assert_eq!(reg.body["entries"], 3);
    assert_eq!(reg.body["status"], "loaded");
    assert_eq!(reg.body["last_import"]["id"], b["id"]);
}

#[tokio::test]
async fn a_new_snapshot_replaces_the_old_one() {
    let app = TestApp::spawn().await;
    let first = numbers(100, 0);
    assert_eq!(
        app.upload("robinson", "", csv(&first)).await.body["status"],
        "succeeded"
    );
    let mut second = numbers(98, 0);
    second.push("501234567".into());
    let r = app.upload("robinson", "", csv(&second)).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_before"], 100);
    assert_eq!(r.body["entries_after"], 99);
    assert!(app.allowed(&first[99]).await);
    assert!(!app.allowed("501234567").await);
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'regdata_%'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(tables, 1, "the previous generation's table is dropped");
}

#[tokio::test]
async fn gzip_and_multi_member_gzip_uploads_are_read() {
    let app = TestApp::spawn().await;
    let r = app
        .upload("robinson", "", gzip(&csv(&numbers(10, 0))))
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 10);

    // `cat a.gz b.gz`: two gzip members, one file.
    let mut both = gzip(&csv(&numbers(10, 0)));
    both.extend(gzip(b"601000010\n601000011\n"));
    let r = app.upload("robinson", "", both).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 12);
    assert!(!app.allowed("601000011").await);
}

#[tokio::test]
async fn a_truncated_gzip_fails_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(50, 0))).await;
    let full = gzip(&csv(&numbers(5000, 0)));
    let r = app
        .upload("robinson", "", full[..full.len() / 2].to_vec())
        .await;
    assert_eq!(r.body["status"], "failed", "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{}",
        r.body
    );
    assert!(!app.allowed("600000049").await);
    assert_eq!(
        app.get("/v1/registries/robinson", ADMIN_KEY).await.body["entries"],
        50
    );
}

#[tokio::test]
async fn a_file_of_mostly_invalid_rows_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(10, 0))).await;
    let mut rows = numbers(5, 100);
    rows.extend((0..20).map(|i| format!("garbage {i}")));
    let r = app.upload("robinson", "", csv(&rows)).await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    assert_eq!(r.body["rows_rejected"], 20);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("max_reject_rate"));
    assert!(
        app.allowed("600000100").await,
        "nothing from the refused file is live"
    );
    assert!(!app.allowed("600000000").await, "the old data still serves");
}

#[tokio::test]
async fn a_binary_file_is_not_a_registry() {
    let app = TestApp::spawn().await;
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00".to_vec();
    let r = app.upload("robinson", "", png).await;
    assert_eq!(r.body["status"], "failed", "{}", r.body);
    let r = app.upload("robinson", "", Vec::new()).await;
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["error"], "the file holds no data rows");
    assert_eq!(
        app.get("/v1/registries/robinson", ADMIN_KEY).await.body["status"],
        "empty"
    );
}

#[tokio::test]
async fn a_snapshot_that_would_wipe_the_list_is_refused_unless_forced() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(1000, 0))).await;
    let truncated = numbers(900, 0);
    let r = app.upload("robinson", "", csv(&truncated)).await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("remove 100 of the 1000"),
        "{}",
        r.body
    );
    assert!(!app.allowed("600000999").await);

    let r = app
        .upload("robinson", "max_shrink=0.2", csv(&truncated))
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert!(app.allowed("600000999").await);

    let r = app
        .upload("robinson", "force=true", csv(&numbers(10, 0)))
        .await;
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(r.body["forced"], true);
    assert_eq!(r.body["entries_after"], 10);
}

#[tokio::test]
async fn a_delta_adds_and_removes() {
    let app = TestApp::spawn().await;
    // 100 entries: removing one stays within max_shrink (5%).
    app.upload("robinson", "", csv(&numbers(100, 0))).await;
    let delta = "numer;op\n600000000;D\n501234567;A\n600000001;-\n600000001;+\n"
        .as_bytes()
        .to_vec();
    let r = app.upload("robinson", "mode=delta", delta.clone()).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 100);
    assert!(app.allowed("600000000").await);
    assert!(
        !app.allowed("600000001").await,
        "the last operation on a number wins"
    );
    assert!(!app.allowed("501234567").await);
    let again = app.upload("robinson", "mode=delta", delta).await;
    assert_eq!(
        again.body["entries_after"], 100,
        "applying a delta twice changes nothing"
    );
}

#[tokio::test]
async fn a_delta_that_would_empty_the_registry_is_refused_unless_forced() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(1000, 0))).await;
    let mut wipe = String::from("numer;op\n");
    for n in numbers(1000, 0) {
        wipe.push_str(&format!("{n};D\n"));
    }
    let r = app
        .upload("robinson", "mode=delta", wipe.clone().into_bytes())
        .await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    assert_eq!(r.body["forced"], false);
    let error = r.body["error"].as_str().unwrap();
    assert!(error.contains("remove 1000 of the 1000"), "{error}");
    assert!(error.contains("max_shrink"), "{error}");
    assert!(!app.allowed("600000500").await, "nothing was removed");

    // Removals within max_shrink go through; beyond it, force=true says they are meant.
    let mut few = String::from("numer;op\n");
    for n in numbers(10, 0) {
        few.push_str(&format!("{n};D\n"));
    }
    let r = app.upload("robinson", "mode=delta", few.into_bytes()).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 990);
    let r = app
        .upload("robinson", "mode=delta&force=true", wipe.into_bytes())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 0);
    assert!(app.allowed("600000500").await);
}

#[tokio::test]
async fn imports_are_recorded_and_listed() {
    let app = TestApp::spawn().await;
    let a = app.upload("robinson", "", csv(&numbers(3, 0))).await;
    let b = app.upload("robinson", "", b"rubbish\n".to_vec()).await;
    let list = app.get("/v1/registries/robinson/imports", ADMIN_KEY).await;
    let ids: Vec<&Value> = list.body["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, vec![&b.body["id"], &a.body["id"]]);
    let r = app
        .get("/v1/registries/robinson/imports/424242", ADMIN_KEY)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.upload("nosuch", "", csv(&numbers(3, 0))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "unknown_registry");
    let r = app
        .upload("robinson", "mode=replace", csv(&numbers(3, 0)))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .upload("robinson", "format=xml", csv(&numbers(3, 0)))
        .await;
    assert_eq!(r.body["error"]["code"], "unsupported_format");
}

#[tokio::test]
async fn a_second_import_into_a_busy_registry_gets_409() {
    let app = TestApp::spawn().await;
    let mut holder = app.state.db.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1, 1)")
        .bind(tarcza::store::locks::IMPORT_LOCK_CLASS)
        .execute(&mut *holder)
        .await
        .unwrap();
    let r = app.upload("robinson", "", csv(&numbers(3, 0))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "import_in_progress");
}

#[tokio::test]
async fn the_snapshot_reloads_from_postgres_after_a_restart() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(500, 0))).await;
    app.block("501234567").await;
    let restarted = app.replica().await;
    assert!(!restarted.allowed("600000499").await);
    assert!(!restarted.allowed("501234567").await);
    assert!(restarted.allowed("600000500").await);
}

#[tokio::test]
async fn an_import_left_running_by_a_dead_process_is_marked_failed() {
    let app = TestApp::spawn().await;
    sqlx::query("INSERT INTO imports (registry_id, mode, format, status) VALUES (1, 'snapshot', 'csv', 'running')")
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        tarcza::store::imports::fail_interrupted(&app.state.db)
            .await
            .unwrap(),
        1
    );
    let list = app.get("/v1/registries/robinson/imports", ADMIN_KEY).await;
    assert_eq!(list.body["imports"][0]["status"], "failed");
    assert!(list.body["imports"][0]["error"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    let r = app.upload("robinson", "", csv(&numbers(3, 0))).await;
    assert_eq!(r.body["status"], "succeeded");
}

/// A client that sends half a file and hangs up, over a real socket.
#[tokio::test]
async fn an_upload_cut_off_mid_way_leaves_the_old_data_serving() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(100, 0))).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(tarcza::http::serve(
        listener,
        router,
        std::future::pending(),
    ));

    let body = csv(&numbers(100_000, 0));
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/registries/robinson/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\
         Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&body[..body.len() / 3]).await.unwrap();
    sock.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(sock);

    let mut status = Value::Null;
    for _ in 0..100 {
        let list = app.get("/v1/registries/robinson/imports", ADMIN_KEY).await;
        status = list.body["imports"][0].clone();
        if status["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["error"].as_str().unwrap().contains("interrupted"),
        "{status}"
    );
    assert_eq!(
        app.get("/v1/registries/robinson", ADMIN_KEY).await.body["entries"],
        100
    );
    assert!(app.allowed("600050000").await);
    assert!(!app.allowed("600000099").await);
}

/// `expected_rows` is a 64-bit signed count, as the document says: a value beyond it,
/// or below zero, is refused before anything is recorded.
#[tokio::test]
async fn an_expected_row_count_out_of_range_is_refused_before_the_import() {
    let app = TestApp::spawn().await;
    for (query, status, code) in [
        ("expected_rows=9223372036854775808", 400, "invalid_query"),
        ("expected_rows=-1", 422, "invalid_parameter"),
    ] {
        let r = app
            .upload("robinson", query, b"numer\n601234567\n".to_vec())
            .await;
        assert_eq!(r.status.as_u16(), status, "{query}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{query}");
    }
    let list = app.get("/v1/registries/robinson/imports", ADMIN_KEY).await;
    assert_eq!(list.body["imports"], serde_json::json!([]));
    let r = app
        .upload(
            "robinson",
            "expected_rows=1",
            b"numer\n601234567\n".to_vec(),
        )
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
}
