//! Range blocks: do-not-call entries of a prefix (issue 15, point 1).

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::helpers::{TestApp, ADMIN_KEY};

/// The DNC reasons of a check, as (prefix or null, entry id).
fn dnc_reasons(body: &Value) -> Vec<(Value, i64)> {
    body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"] == "dnc")
        .map(|r| (r["prefix"].clone(), r["entry_id"].as_i64().unwrap()))
        .collect()
}

async fn add_prefix(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let r = app.post("/v1/dnc", ADMIN_KEY, body).await;
    (r.status, r.body)
}

#[tokio::test]
async fn a_prefix_entry_blocks_every_number_starting_with_it_and_no_other() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"prefix": "+48 70", "reason": "premium rate", "source": "ops"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["prefix"], "+4870");
    assert!(r.body.get("number").is_none(), "{}", r.body);
    assert_eq!(r.body["scope"], "global");
    let id = r.body["id"].as_i64().unwrap();

    // Seen at once, in any spelling of a covered number, with the prefix as the reason.
    for covered in ["701 234 567", "+48 708 000 111", "0048707999999"] {
        let c = app.check(covered).await;
        assert_eq!(c.body["allowed"], false, "{covered}: {}", c.body);
        assert_eq!(
            dnc_reasons(&c.body),
            vec![(json!("+4870"), id)],
            "{covered}"
        );
        assert_eq!(c.body["reasons"][0]["reason"], "premium rate");
    }
    for outside in ["601 234 567", "+48 22 123 45 67", "+44 20 7946 0958"] {
        assert!(app.allowed(outside).await, "{outside}");
    }
    // The batch check reports the same.
    let b = app
        .post(
            "/v1/check",
            ADMIN_KEY,
            json!({"numbers": ["701234567", "601234567"]}),
        )
        .await;
    assert_eq!(b.body["results"][0]["allowed"], false);
    assert_eq!(b.body["results"][0]["reasons"][0]["prefix"], "+4870");
    assert_eq!(b.body["results"][1]["allowed"], true);
    // Another process learns of it like of any entry.
    let other = app.replica().await;
    assert!(!other.allowed("701234567").await);
}

#[tokio::test]
async fn a_prefix_is_one_entry_per_scope_in_any_spelling() {
    let app = TestApp::spawn().await;
    let (s, first) = add_prefix(&app, json!({"prefix": "+48 22 123 45"})).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    for spelling in ["0048 22 123 45", "+48-22-123-45", "tel:+4822 12345"] {
        let (s, again) = add_prefix(&app, json!({"prefix": spelling})).await;
        assert_eq!(s, StatusCode::OK, "{spelling}: {again}");
        assert_eq!(again["id"], first["id"]);
    }
    let (s, scoped) = add_prefix(&app, json!({"prefix": "+48 22 123 45", "client": "acme"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(scoped["id"], first["id"]);
    // A prefix with all of a number's digits and that number are two entries.
    let (s, p) = add_prefix(&app, json!({"prefix": "+48 601 234 567"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, n) = add_prefix(&app, json!({"number": "+48 601 234 567"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(p["id"], n["id"]);
    let c = app.check("601234567").await;
    assert_eq!(dnc_reasons(&c.body).len(), 2, "{}", c.body);
}

#[tokio::test]
async fn overlapping_prefixes_are_each_reported() {
    let app = TestApp::spawn().await;
    let mut ids = vec![];
    for prefix in ["+48", "+48 70", "+48 701", "+48 701 234 567"] {
        let (s, e) = add_prefix(&app, json!({ "prefix": prefix })).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        ids.push((e["prefix"].clone(), e["id"].as_i64().unwrap()));
    }
    let (_, number) = add_prefix(&app, json!({"number": "701234567"})).await;
    let c = app.check("701234567").await;
    let mut found = dnc_reasons(&c.body);
    found.sort_by_key(|(_, id)| *id);
    let mut expected = ids.clone();
    expected.push((Value::Null, number["id"].as_i64().unwrap()));
    assert_eq!(found, expected, "{}", c.body);
    // A number under the country code only.
    let c = app.check("601234567").await;
    assert_eq!(dnc_reasons(&c.body), vec![ids[0].clone()]);
}

#[tokio::test]
async fn prefix_entries_keep_scopes_expiry_audit_and_removal() {
    let app = TestApp::spawn().await;
    let (_, scoped) = add_prefix(&app, json!({"prefix": "+48 70", "client": "ACME"})).await;
    let for_acme = app
        .get("/v1/check?number=701234567&client=acme", ADMIN_KEY)
        .await;
    assert_eq!(for_acme.body["allowed"], false);
    assert_eq!(for_acme.body["reasons"][0]["scope"], "client");
    let for_beta = app
        .get("/v1/check?number=701234567&client=beta", ADMIN_KEY)
        .await;
    assert_eq!(for_beta.body["allowed"], true);

    // Expiry: stops blocking without a restart.
    let expires = Utc::now() + Duration::milliseconds(1500);
    let (s, _) = add_prefix(&app, json!({"prefix": "+48 50", "expires_at": expires})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(!app.allowed("501234567").await);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert!(app.allowed("501234567").await);

    // Removal, audited with the prefix; the row stays.
    let id = scoped["id"].as_i64().unwrap();
    let r = app
        .delete(
            &format!("/v1/dnc/{id}"),
            ADMIN_KEY,
            json!({"reason": "client contract ended"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["prefix"], "+4870");
    let again = app
        .get("/v1/check?number=701234567&client=acme", ADMIN_KEY)
        .await;
    assert_eq!(again.body["allowed"], true);
    let one = app.get(&format!("/v1/dnc/{id}"), ADMIN_KEY).await;
    assert_eq!(one.body["prefix"], "+4870");
    let audit = app.get("/v1/audit?limit=10", ADMIN_KEY).await;
    let events = audit.body["events"].as_array().unwrap();
    let of_entry: Vec<&str> = events
        .iter()
        .filter(|e| e["subject"] == format!("dnc:{id}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(of_entry, vec!["dnc.remove", "dnc.add"]);
    for e in events
        .iter()
        .filter(|e| e["subject"] == format!("dnc:{id}"))
    {
        assert_eq!(e["details"]["prefix"], "+4870", "{e}");
        assert_eq!(e["number"], Value::Null, "a prefix is not a number");
    }
}

#[tokio::test]
async fn bad_prefixes_are_refused_by_name_and_change_nothing() {
    let app = TestApp::spawn().await;
    for (body, code, words) in [
        (
            json!({"prefix": "48 70"}),
            "invalid_prefix",
            "no country code",
        ),
        (
            json!({"prefix": "+48 0"}),
            "invalid_prefix",
            "block nothing",
        ),
        (
            json!({"prefix": "+4"}),
            "invalid_prefix",
            "whole country code",
        ),
        (
            json!({"prefix": "+999"}),
            "invalid_prefix",
            "unknown country code",
        ),
        (
            json!({"prefix": "+48 601 234 567 89"}),
            "invalid_prefix",
            "longer than any number",
        ),
        (
            json!({"prefix": "+48 70 abc"}),
            "invalid_prefix",
            "unexpected character",
        ),
        (
            json!({"prefix": "+48 70", "number": "601234567"}),
            "number_and_prefix",
            "not both",
        ),
        (json!({"reason": "x"}), "invalid_body", "number is required"),
        (json!({"prefix": 4870}), "invalid_body", ""),
    ] {
        let r = app.post("/v1/dnc", ADMIN_KEY, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn listing_a_number_shows_the_prefix_entries_that_cover_it() {
    let app = TestApp::spawn().await;
    let (_, wide) = add_prefix(&app, json!({"prefix": "+48 70"})).await;
    let (_, own) = add_prefix(&app, json!({"number": "701234567"})).await;
    let (_, _other) = add_prefix(&app, json!({"prefix": "+48 71"})).await;
    let r = app.get("/v1/dnc?number=701234567", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<&Value> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, vec![&own["id"], &wide["id"]], "{}", r.body);
    let r = app.get("/v1/dnc?prefix=%2B48%2070", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["prefix"], "+4870");
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["entries"][0]["id"], wide["id"]);
    let r = app
        .get("/v1/dnc?prefix=%2B4870&number=701234567", ADMIN_KEY)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
