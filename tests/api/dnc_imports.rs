//! Bulk sync of a CRM's flags (`POST /v1/dnc/imports`): additive, atomic, the rules of
//! `POST /v1/dnc` per row, line-numbered rejects, a reject-rate guard and dry runs.

use std::io::Write;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::Utc;
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::changes::feed;
use crate::helpers::{Response, TestApp, ADMIN_KEY};

/// Sends `bytes` to the bulk sync as `key`, with `content_type`.
async fn sync(
    app: &TestApp,
    key: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Response {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/dnc/imports?{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

async fn active_entries(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM dnc_entries WHERE active")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_csv_of_flags_becomes_entries_that_block_and_a_missing_flag_unblocks_no_one() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    // An agent's block that the CRM does not know about.
    app.block("511111111").await;
    let later = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let file = format!(
        "Numer telefonu;Klient;Powód;CRM ID;Wygasa\r\n\
         601 234 567;Acme;prosił;c-1;\r\n\
         +48 501 234 567;;;c-2;{later}\r\n\
         601234567;ACME;again;c-3;\r\n"
    );
    let r = sync(&app, &agent, "", "text/csv", file.into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["rows_total"], 3);
    assert_eq!(r.body["rows_accepted"], 3);
    assert_eq!(r.body["created"], 2);
    assert_eq!(r.body["rows_duplicate"], 1, "ACME is Acme's scope");
    assert_eq!(r.body["dry_run"], false);
    // Visible to /check when the answer comes.
    assert!(!app.allowed("501234567").await);
    let r = app
        .get("/v1/check?number=601234567&client=acme", ADMIN_KEY)
        .await;
    assert_eq!(r.body["allowed"], false, "{}", r.body);
    assert!(
        app.allowed("601234567").await,
        "a client's flag, not global"
    );
    assert!(!app.allowed("511111111").await, "never deactivated");

    let listed = app.get("/v1/dnc?number=601234567", ADMIN_KEY).await;
    let entry = &listed.body["entries"][0];
    assert_eq!(entry["source"], "crm", "the default source");
    assert_eq!(entry["reason"], "prosił");
    assert_eq!(entry["external_id"], "c-1");
    assert_eq!(entry["client"], "Acme");
    // Each entry is audited with the key as actor, and the sync as a whole once.
    let events = app.get("/v1/audit?number=501234567", ADMIN_KEY).await;
    let add = &events.body["events"][0];
    assert_eq!(add["action"], "dnc.add");
    assert_eq!(add["actor"]["role"], "agent");
    assert_eq!(add["details"]["after"]["external_id"], "c-2");
    assert_eq!(audit_count(&app, "dnc.import").await, 1);
    // And in the change feed, after the agent's block.
    let (changes, _) = feed(&app, ADMIN_KEY, "").await;
    let numbers: Vec<&str> = changes
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3);
    assert_eq!(numbers[0], "+48511111111");
    assert!(changes[1..].iter().all(|c| c["action"] == "dnc.add"));

    // The same file again: nothing changes, nothing new in the audit log or the feed.
    let version = app.state.index.current().unwrap().version;
    let again = format!(
        "phone,client,expires_at\n601234567,acme,\n501234567,,{}\n",
        (Utc::now() + chrono::Duration::days(1)).to_rfc3339()
    );
    let r = sync(&app, &agent, "", "text/csv", again.into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["unchanged"], 2, "{}", r.body);
    assert_eq!(r.body["created"], 0);
    assert_eq!(r.body["snapshot_version"], Value::Null);
    assert_eq!(audit_count(&app, "dnc.add").await, 3);
    assert_eq!(app.state.index.current().unwrap().version, version);
    // A file asking for longer extends the block; a forever flag over a limited one too.
    let r = sync(&app, &agent, "", "text/csv", b"phone\n501234567\n".to_vec()).await;
    assert_eq!(r.body["extended"], 1, "{}", r.body);
    let listed = app.get("/v1/dnc?number=501234567", ADMIN_KEY).await;
    assert_eq!(listed.body["entries"][0]["expires_at"], Value::Null);
    assert_eq!(active_entries(&app).await, 3);
    let (changes, _) = feed(&app, ADMIN_KEY, "").await;
    assert_eq!(changes.last().unwrap()["action"], "dnc.extend");
}

#[tokio::test]
async fn json_lines_a_dry_run_and_gzip() {
    let app = TestApp::spawn().await;
    let lines = "{\"number\": \"601234567\", \"client\": \"acme\", \"source\": \"hubspot\", \"external_id\": \"h-1\"}\n\
                 {\"number\": \"501234567\", \"reason\": \"RODO\"}\n";
    let r = sync(
        &app,
        ADMIN_KEY,
        "dry_run=true",
        "application/x-ndjson",
        lines.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["dry_run"], true);
    assert_eq!(r.body["created"], 2);
    assert_eq!(active_entries(&app).await, 0, "a dry run changes nothing");
    assert_eq!(audit_count(&app, "dnc.import").await, 0);
    assert!(app.allowed("501234567").await);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(lines.as_bytes()).unwrap();
    let r = sync(
        &app,
        ADMIN_KEY,
        "format=jsonl",
        "application/octet-stream",
        gz.finish().unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 2);
    let listed = app.get("/v1/dnc?number=601234567", ADMIN_KEY).await;
    assert_eq!(listed.body["entries"][0]["source"], "hubspot");
    assert!(!app.allowed("501234567").await);
}

#[tokio::test]
async fn rejects_are_numbered_and_too_many_change_nothing() {
    let app = TestApp::spawn().await;
    let file = "phone;client\n601234567;acme\n12;acme\n\n501234567;acme\nnot a number;x\n";
    let r = sync(&app, ADMIN_KEY, "", "text/csv", file.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "too_many_rejects");
    assert_eq!(r.body["rows_rejected"], 2);
    let lines: Vec<i64> = r.body["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [3, 6]);
    assert_eq!(active_entries(&app).await, 0, "all rows or none");

    let r = sync(
        &app,
        ADMIN_KEY,
        "max_reject_rate=0.5",
        "text/csv",
        file.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 2);
    assert_eq!(r.body["rows_rejected"], 2);
    assert_eq!(active_entries(&app).await, 2);
}

#[tokio::test]
async fn a_file_that_breaks_off_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut csv = String::from("phone\n");
    for i in 0..20_000u32 {
        csv.push_str(&format!("60{i:07}\n"));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes.truncate(bytes.len() - 200);
    let r = sync(&app, ADMIN_KEY, "", "text/csv", bytes).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unreadable_file");
    assert_eq!(active_entries(&app).await, 0);
    assert_eq!(
        app.get("/v1/changes", ADMIN_KEY).await.body["changes"],
        json!([])
    );
    // Whole, the same file is 20 000 entries at once, all visible.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let r = sync(&app, ADMIN_KEY, "", "text/csv", gz.finish().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 20_000);
    assert!(!app.allowed("600019999").await);
    let (changes, _) = feed(&app, ADMIN_KEY, "").await;
    assert_eq!(changes.len(), 20_000);
}

#[tokio::test]
async fn the_sync_reads_its_parameters_strictly() {
    let app = TestApp::spawn().await;
    let dialer = app.key(Role::Dialer).await;
    let r = sync(&app, &dialer, "", "text/csv", b"601234567\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (query, code) in [
        ("format=xml", "unsupported_format"),
        ("max_reject_rate=2", "invalid_parameter"),
        ("encoding=klingon", "unsupported_encoding"),
        ("force=true", "unknown_parameter"),
    ] {
        let r = sync(&app, ADMIN_KEY, query, "text/csv", b"601234567\n".to_vec()).await;
        assert!(r.status.is_client_error(), "{query}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{query}: {}", r.body);
    }
    let r = sync(&app, ADMIN_KEY, "", "text/csv", b"phone\n\n".to_vec()).await;
    assert_eq!(r.body["error"]["code"], "no_rows");
    assert_eq!(active_entries(&app).await, 0);
}

/// A sync and agents adding the same numbers at once: the sync compares and writes
/// under the data version's lock, so an agent's entry lands before or after it, never
/// between the comparison and the write (which would break the one-active-entry rule
/// and fail the sync). Every number ends up with exactly one active entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_and_agents_adding_the_same_numbers_at_once_make_one_entry_each() {
    let app = TestApp::spawn().await;
    let mut csv = String::from("phone;client\n");
    for i in 0..5_000u32 {
        csv.push_str(&format!("60{i:07};acme\n"));
    }
    let agents = {
        let app = crate::changes::twin(&app);
        tokio::spawn(async move {
            for i in (0..5_000u32).step_by(25) {
                let r = app
                    .post(
                        "/v1/dnc",
                        ADMIN_KEY,
                        json!({"number": format!("60{i:07}"), "client": "ACME"}),
                    )
                    .await;
                assert!(r.status.is_success(), "{}", r.body);
            }
        })
    };
    let mut synced = 0;
    for _ in 0..3 {
        let r = sync(&app, ADMIN_KEY, "", "text/csv", csv.clone().into_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        synced += r.body["created"].as_i64().unwrap();
    }
    agents.await.unwrap();
    let by_agents: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM dnc_entries WHERE active AND source IS DISTINCT FROM 'crm'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(synced + by_agents, 5_000, "each number made once");
    assert_eq!(active_entries(&app).await, 5_000);
}
