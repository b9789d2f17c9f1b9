use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{Duration, Utc};
use serde_json::json;
use tarcza::domain::Role;

use crate::helpers::{TestApp, ADMIN_KEY};

#[tokio::test]
async fn an_agent_blocks_a_number_and_check_sees_it_at_once() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": "+48 601 234 567", "reason": "said stop", "source": "agent", "note": "call 17"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["number"], "+48601234567");
    assert_eq!(r.body["scope"], "global");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["reason"], "said stop");
    // No refresh in between: the write's own response came after the snapshot update.
    assert!(!app.allowed("601234567").await);
}

#[tokio::test]
async fn adding_the_same_number_and_scope_again_returns_the_existing_entry() {
    let app = TestApp::spawn().await;
    let first = app
        .post("/v1/dnc", ADMIN_KEY, json!({"number": "601234567"}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app
        .post("/v1/dnc", ADMIN_KEY, json!({"number": "0048 601 234 567"}))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first.body["id"]);
    // Another scope is another entry.
    let scoped = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "client": "acme"}),
        )
        .await;
    assert_eq!(scoped.status, StatusCode::CREATED);
    assert_ne!(scoped.body["id"], first.body["id"]);

    let list = app.get("/v1/dnc?number=601-234-567", ADMIN_KEY).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn concurrent_adds_of_one_number_make_one_entry() {
    let app = TestApp::spawn().await;
    let calls = (0..8).map(|_| app.post("/v1/dnc", ADMIN_KEY, json!({"number": "601234567"})));
    let results = futures_util::future::join_all(calls).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert!(results.iter().all(|r| r.status.is_success()));
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|r| r.body["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn an_entry_stops_blocking_when_it_expires_without_a_restart() {
    let app = TestApp::spawn().await;
    let expires = Utc::now() + Duration::milliseconds(1500);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "expires_at": expires}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!app.allowed("601234567").await);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert!(app.allowed("601234567").await);

    // Blocking again after expiry makes a fresh entry.
    let again = app
        .post("/v1/dnc", ADMIN_KEY, json!({"number": "601234567"}))
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert!(!app.allowed("601234567").await);
}

#[tokio::test]
async fn re_adding_never_shortens_a_block() {
    let app = TestApp::spawn().await;
    let soon = Utc::now() + Duration::hours(1);
    let first = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "expires_at": soon}),
        )
        .await;
    let forever = app
        .post("/v1/dnc", ADMIN_KEY, json!({"number": "601234567"}))
        .await;
    assert_eq!(forever.status, StatusCode::OK);
    assert_eq!(forever.body["id"], first.body["id"]);
    assert_eq!(forever.body["expires_at"], json!(null));
    let shorter = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "expires_at": soon}),
        )
        .await;
    assert_eq!(shorter.body["expires_at"], json!(null));
}

#[tokio::test]
async fn a_past_expiry_is_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "invalid_expires_at");
    assert!(app.allowed("601234567").await);
}

#[tokio::test]
async fn removal_needs_a_reason_deactivates_and_keeps_the_record() {
    let app = TestApp::spawn().await;
    let entry = app.block("601234567").await;
    let id = entry["id"].as_i64().unwrap();
    let uri = format!("/v1/dnc/{id}");

    let r = app.delete(&uri, ADMIN_KEY, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "missing_reason");
    assert!(
        !app.allowed("601234567").await,
        "a refused removal changes nothing"
    );

    let r = app
        .delete(&uri, ADMIN_KEY, json!({"reason": "entered by mistake"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["deactivation_reason"], "entered by mistake");
    assert!(r.body["deactivated_by"].is_i64());
    assert!(app.allowed("601234567").await);

    let kept = app.get(&uri, ADMIN_KEY).await;
    assert_eq!(kept.status, StatusCode::OK);
    assert_eq!(kept.body["active"], false);

    let twice = app
        .delete(&uri, ADMIN_KEY, json!({"reason": "again"}))
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let missing = app
        .delete("/v1/dnc/999999", ADMIN_KEY, json!({"reason": "x"}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE number = 48601234567 ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(actions, ["dnc.add", "dnc.remove"]);
}

#[tokio::test]
async fn the_audit_log_cannot_be_rewritten() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let update = sqlx::query("UPDATE audit_log SET action = 'nothing'")
        .execute(&app.state.db)
        .await;
    assert!(update.is_err());
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(&app.state.db)
        .await;
    assert!(delete.is_err());
    let truncate = sqlx::query("TRUNCATE audit_log")
        .execute(&app.state.db)
        .await;
    assert!(truncate.is_err());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'dnc.add'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_do_not_call_entry_survives_a_registry_resync_that_lacks_the_number() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let r = app.upload("robinson", "", b"501234567\n".to_vec()).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let r = app
        .upload("robinson", "force=true", b"502234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert!(!app.allowed("601234567").await);
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Option<&str>, &[u8], StatusCode, &str)> = vec![
        (
            Some("application/json"),
            b"{\"number\": ",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            b"{\"number\": 601234567}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Some("application/json"),
            b"{\"number\": \"601234567\", \"nmber\": 1}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Some("application/json"),
            b"{}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Some("application/json"),
            b"\xff\xfe",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            b"{\"number\": \"=cmd|' /C calc'!A0\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_number",
        ),
        (
            Some("application/json"),
            b"{\"number\": \"601234567\", \"reason\": \"a\\u0000b\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            Some("text/plain"),
            b"{\"number\": \"601234567\"}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            None,
            b"",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/v1/dnc")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"));
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let r = app.send(req.body(Body::from(body.to_vec())).unwrap()).await;
        assert_eq!(
            r.status,
            status,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        assert_eq!(
            r.body["error"]["code"],
            code,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let long = "x".repeat(5000);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "note": long}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get("/v1/dnc/abc", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(entries, 0);
    assert!(app.allowed("601234567").await);
}

/// The limits are characters, as the API documents (and as the database's `length()`
/// counts), of the text as sent: Polish text takes two bytes a letter and must fit as
/// much as English.
#[tokio::test]
async fn text_limits_count_characters_of_the_text_as_sent() {
    let app = TestApp::spawn().await;
    let polish = |n: usize| "ż".repeat(n);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "reason": polish(2000), "note": polish(2000),
                   "client": polish(200), "campaign": polish(200)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["client"].as_str().unwrap().chars().count(), 200);
    let check = format!(
        "/v1/check?number=601234567&client={}&campaign={}",
        crate::helpers::urlencode(&polish(200)),
        crate::helpers::urlencode(&polish(200))
    );
    let r = app.get(&check, ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["allowed"], false);
    for (field, value, code) in [
        ("reason", polish(2001), "invalid_field"),
        ("note", format!("{} ", "x".repeat(2000)), "invalid_field"),
        ("client", polish(201), "invalid_scope"),
        ("campaign", format!(" {}", "x".repeat(200)), "invalid_scope"),
    ] {
        let mut body = json!({"number": "501234567"});
        body[field] = json!(value);
        let r = app.post("/v1/dnc", ADMIN_KEY, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], code, "{field}");
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("characters"));
    }
    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": polish(200), "role": "dialer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": polish(201), "role": "dialer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(app.allowed("501234567").await);
}

/// Times are RFC 3339, as the API documents, read strictly: `2099-1-1`, a space for the
/// `T`, an offset without its colon are refused, not guessed at.
#[tokio::test]
async fn times_are_read_as_rfc_3339_only() {
    let app = TestApp::spawn().await;
    for (i, at) in [
        "2099-1-1T00:00:00Z",
        "2099-01-01 00:00:00Z",
        "2099-01-01T00:00:00+0000",
        "2099-01-01T00:00:00 +00:00",
        "2099-01-01T00:00:00",
    ]
    .into_iter()
    .enumerate()
    {
        let client = format!("c{i}");
        let r = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": "601234567", "client": client, "expires_at": at}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{at}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], "invalid_body", "{at}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("RFC 3339"),
            "{}",
            r.body
        );
        let uri = format!("/v1/audit?from={}", crate::helpers::urlencode(at));
        let r = app.get(&uri, ADMIN_KEY).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{at}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_query", "{at}");
    }
    for at in ["2099-01-01T00:00:00Z", "2099-01-01t02:00:00.5+02:00"] {
        let r = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": "601234567", "client": at, "expires_at": at}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{at}: {}", r.body);
        let uri = format!("/v1/audit?from={}", crate::helpers::urlencode(at));
        assert_eq!(
            app.get(&uri, ADMIN_KEY).await.status,
            StatusCode::OK,
            "{at}"
        );
    }
}
