//! Client and campaign names compare case-insensitively and Unicode-normalised, in the
//! snapshot, in the database's unique index and lookups, and for rows older than that.

use axum::http::StatusCode;
use serde_json::json;
use tarcza::domain::scope_key;

use crate::helpers::{empty_database, urlencode, TestApp, ADMIN_KEY};

/// (stored spelling, spelling of the call) pairs that are one name.
const SAME: &[(&str, &str)] = &[
    ("ACME", "acme"),
    ("Acme", " aCmE "),
    ("ŁÓDŹ", "łódź"),
    ("Straße", "STRASSE"),
    ("Caf\u{e9}", "CAFE\u{301}"),
    ("cafe\u{301}", "Caf\u{c9}"),
];

async fn allowed(app: &TestApp, number: &str, client: &str, campaign: Option<&str>) -> bool {
    let mut uri = format!("/v1/check?number={number}&client={}", urlencode(client));
    if let Some(c) = campaign {
        uri.push_str(&format!("&campaign={}", urlencode(c)));
    }
    let r = app.get(&uri, ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
    r.body["allowed"].as_bool().unwrap()
}

#[tokio::test]
async fn a_client_or_campaign_entry_blocks_every_spelling_of_its_name() {
    let app = TestApp::spawn().await;
    for (i, (stored, called)) in SAME.iter().enumerate() {
        let number = format!("60{i}234567");
        let r = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": number, "client": stored}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let campaign_number = format!("50{i}234567");
        let r = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": campaign_number, "client": "x", "campaign": stored}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        assert!(
            !allowed(&app, &number, called, None).await,
            "client {stored:?} called as {called:?}"
        );
        assert!(
            !allowed(&app, &campaign_number, "X", Some(called)).await,
            "campaign {stored:?} called as {called:?}"
        );
        assert!(allowed(&app, &number, "other", None).await);
    }

    // The batch check too; the reason shows the name as it was stored.
    let r = app
        .post(
            "/v1/check",
            ADMIN_KEY,
            json!({"numbers": ["600234567"], "client": "acme"}),
        )
        .await;
    let result = &r.body["results"][0];
    assert_eq!(result["allowed"], false, "{}", r.body);
    assert_eq!(result["reasons"][0]["client"], "ACME");
}

#[tokio::test]
async fn adding_a_name_in_another_spelling_returns_the_existing_entry() {
    let app = TestApp::spawn().await;
    for (i, (stored, again)) in SAME.iter().enumerate() {
        let number = format!("60{i}234567");
        let first = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": number, "client": stored}),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let second = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": number, "client": again}),
            )
            .await;
        assert_eq!(second.status, StatusCode::OK, "{stored:?} / {again:?}");
        assert_eq!(second.body["id"], first.body["id"]);
        assert_eq!(
            second.body["client"], *stored,
            "the stored spelling is kept"
        );
    }
    let active: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries WHERE active")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(active, SAME.len() as i64);

    // The database itself refuses a second active entry for one name in two spellings.
    let e = sqlx::query(
        "INSERT INTO dnc_entries (number, client, version) VALUES (48600234567, 'aCmE', 1)",
    )
    .execute(&app.state.db)
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("dnc_entries_active_scope_unique"),
        "{e}"
    );
}

/// The key the database computes (migration 0004's `scope_key`) is the key Rust computes,
/// for every character up to U+1FFFF (all characters with a case folding are below it)
/// and for the names of the tests.
#[tokio::test]
async fn the_database_and_the_service_compute_the_same_scope_keys() {
    let app = TestApp::spawn().await;
    let mut names: Vec<String> = (0..0x2_0000u32)
        .filter_map(char::from_u32)
        .filter(|c| *c != '\0')
        .map(String::from)
        .collect();
    for (a, b) in SAME {
        names.push(a.to_string());
        names.push(b.trim().to_string());
    }
    names.push("ΣΊΣΥΦΟΣ σίσυφος ǄEMAL ǅemal İstanbul ﬃ ＡＣＭＥ".into());
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT n, scope_key(n) FROM unnest($1::text[]) AS n")
            .bind(&names)
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(keys.len(), names.len());
    let differ: Vec<String> = keys
        .iter()
        .filter(|(name, key)| scope_key(name) != *key)
        .map(|(name, key)| {
            let cps: Vec<String> = name
                .chars()
                .map(|c| format!("U+{:04X}", c as u32))
                .collect();
            format!(
                "{} → SQL {key:?}, Rust {:?}",
                cps.join(" "),
                scope_key(name)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} names differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// Migration 0004 on a database that already holds entries which become one scope.
#[tokio::test]
async fn the_migration_merges_entries_that_become_one_scope_and_audits_it() {
    let (_, pool) = empty_database().await;
    // The migrations before 0004, from a directory of their own.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0004" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO dnc_entries (number, client, campaign, reason, expires_at, version) VALUES
           (48601234567, 'ACME', NULL, 'first', now() + interval '1 day', 1),
           (48601234567, 'acme', NULL, 'second', NULL, 1),
           (48601234567, 'Acme', NULL, 'third', now() + interval '2 days', 1),
           (48601234567, 'ŁÓDŹ', 'Lato', 'l1', NULL, 1),
           (48601234567, 'łódź', 'LATO', 'l2', NULL, 1),
           (48601234567, 'other', NULL, 'o', NULL, 1),
           (48601234567, NULL, NULL, 'g', NULL, 1),
           (48502234567, 'acme', NULL, 'elsewhere', NULL, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();

    tarcza::db::migrate(&pool).await.unwrap();

    let rows: Vec<(i64, bool, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, active, client_key, deactivation_reason FROM dnc_entries ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let active: Vec<i64> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
    // 'acme' (no expiry) outlasts 'ACME' and 'Acme'; 'ŁÓDŹ' is older than 'łódź'.
    assert_eq!(active, [2, 4, 6, 7, 8], "{rows:?}");
    assert_eq!(rows[0].2.as_deref(), Some("acme"));
    assert_eq!(rows[4].2.as_deref(), Some("łódź"));
    for merged in [0, 2] {
        let reason = rows[merged].3.as_deref().unwrap();
        assert!(reason.starts_with("merged into entry 2"), "{reason}");
    }
    let audited: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT subject, details FROM audit_log WHERE action = 'dnc.merge' ORDER BY subject",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let subjects: Vec<&str> = audited.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(subjects, ["dnc:1", "dnc:3", "dnc:5"]);
    assert_eq!(audited[2].1["merged_into"], 4);
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM dnc_entries WHERE NOT active UNION SELECT version FROM data_version",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(versions, [2], "merged rows carry the new data version");
}
