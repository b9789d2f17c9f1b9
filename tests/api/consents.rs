//! Consents: recorded, read, withdrawn (issue 15, point 3).

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::helpers::{TestApp, ADMIN_KEY};

/// A complete consent of `number` for `client` (marketing), given yesterday.
pub fn consent(number: &str, client: &str) -> Value {
    json!({
        "number": number,
        "client": client,
        "purpose": "marketing",
        "evidence": format!("rec-{number}-{client}"),
        "source": "agent",
        "given_at": Utc::now() - Duration::days(1),
    })
}

/// Records `body` through the API and returns the record.
pub async fn give(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/consents", ADMIN_KEY, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM consents")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_agent_records_reads_and_withdraws_a_consent_and_the_record_stays() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let mut body = consent("+48 601 234 567", "Acme");
    body["note"] = json!("said yes on call 2291");
    body["expires_at"] = json!(Utc::now() + Duration::days(365));
    let r = app.post("/v1/consents", &agent, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["number"], "+48601234567");
    assert_eq!(r.body["client"], "Acme");
    assert_eq!(r.body["purpose"], "marketing");
    assert_eq!(r.body["evidence"], "rec-+48 601 234 567-Acme");
    assert_eq!(r.body["valid"], true);

    // The same consent again (another spelling of the number and client): the record.
    body["number"] = json!("601-234-567");
    body["client"] = json!("ACME");
    let again = app.post("/v1/consents", &agent, body.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], id);
    // The same evidence with other dates is a conflict, not a second consent.
    body["given_at"] = json!(Utc::now() - Duration::days(3));
    let clash = app.post("/v1/consents", &agent, body).await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert_eq!(clash.body["error"]["code"], "consent_conflict");
    assert_eq!(count(&app).await, 1);

    // Read by number, by client, by id.
    let by_number = app.get("/v1/consents?number=601234567", &agent).await;
    assert_eq!(by_number.status, StatusCode::OK, "{}", by_number.body);
    assert_eq!(by_number.body["consents"][0]["id"], id);
    let by_client = app.get("/v1/consents?client=acme", &agent).await;
    assert_eq!(by_client.body["consents"].as_array().unwrap().len(), 1);
    let other = app.get("/v1/consents?client=beta", &agent).await;
    assert_eq!(other.body["consents"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.get("/v1/consents", &agent).await.status,
        StatusCode::BAD_REQUEST
    );
    let one = app.get(&format!("/v1/consents/{id}"), &agent).await;
    assert_eq!(one.body["note"], "said yes on call 2291");
    assert_eq!(
        app.get("/v1/consents/999", &agent).await.status,
        StatusCode::NOT_FOUND
    );

    // Withdrawal needs a reason; it keeps the record, and happens once.
    let no_reason = app
        .delete(&format!("/v1/consents/{id}"), &agent, json!({}))
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.body["error"]["code"], "missing_reason");
    let w = app
        .delete(
            &format!("/v1/consents/{id}"),
            &agent,
            json!({"reason": "withdrew consent by phone"}),
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    assert_eq!(w.body["valid"], false);
    assert_eq!(w.body["withdrawal_reason"], "withdrew consent by phone");
    assert!(w.body["withdrawn_at"].is_string());
    let twice = app
        .delete(
            &format!("/v1/consents/{id}"),
            &agent,
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.body["error"]["code"], "already_withdrawn");
    assert_eq!(count(&app).await, 1, "a withdrawal never deletes");

    // Audited, with the key that acted.
    let audit = app.get("/v1/audit?number=601234567", ADMIN_KEY).await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["consent.withdraw", "consent.add"]);
    assert_eq!(audit.body["events"][0]["actor"]["role"], "agent");
    assert_eq!(
        audit.body["events"][0]["details"]["reason"],
        "withdrew consent by phone"
    );

    // A new consent after the withdrawal may reuse the evidence reference.
    let renewed = app
        .post("/v1/consents", &agent, consent("+48 601 234 567", "Acme"))
        .await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.body);
    assert_ne!(renewed.body["id"], id);
}

#[tokio::test]
async fn bad_consents_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let with = |field: &str, value: Value| {
        let mut b = consent("601234567", "acme");
        if value.is_null() {
            b.as_object_mut().unwrap().remove(field);
        } else {
            b[field] = value;
        }
        b
    };
    for (body, code) in [
        (with("number", json!("12")), "invalid_number"),
        (with("client", json!("  ")), "invalid_client"),
        (
            with("purpose", json!("direct marketing")),
            "invalid_purpose",
        ),
        (with("evidence", Value::Null), "missing_field"),
        (with("source", json!("")), "missing_field"),
        (with("given_at", Value::Null), "missing_field"),
        (
            with("given_at", json!(now + Duration::days(1))),
            "invalid_given_at",
        ),
        (
            with("expires_at", json!(now - Duration::hours(1))),
            "invalid_expires_at",
        ),
        (with("evidence", json!("x".repeat(501))), "invalid_field"),
        (with("colour", json!("red")), "invalid_body"),
        (with("client", Value::Null), "invalid_body"),
    ] {
        let r = app.post("/v1/consents", ADMIN_KEY, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.body);
    }
    assert_eq!(count(&app).await, 0);
    let audit: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'consent.%'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(audit, 0);
}

#[tokio::test]
async fn consents_page_back_by_id() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let mut b = consent("601234567", "acme");
        b["evidence"] = json!(format!("form-{i}"));
        give(&app, b).await;
    }
    let first = app.get("/v1/consents?client=acme&limit=3", ADMIN_KEY).await;
    assert_eq!(first.body["consents"].as_array().unwrap().len(), 3);
    let next = first.body["next_before_id"].as_i64().unwrap();
    let rest = app
        .get(
            &format!("/v1/consents?client=acme&limit=3&before_id={next}"),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(rest.body["consents"].as_array().unwrap().len(), 2);
    assert_eq!(rest.body["next_before_id"], Value::Null);
}

#[tokio::test]
async fn text_limits_count_characters_as_the_api_documents_and_times_are_rfc_3339() {
    let app = TestApp::spawn().await;
    // 500 Polish letters are 1000 bytes: within the documented 500 characters.
    let mut body = consent("601234567", "acme");
    body["evidence"] = json!("ż".repeat(500));
    body["source"] = json!("ł".repeat(500));
    body["note"] = json!("ą".repeat(2000));
    let made = give(&app, body.clone()).await;
    assert_eq!(made["evidence"].as_str().unwrap().chars().count(), 500);
    // One character more is refused, naming the field, also when it is a leading tab that
    // trimming would drop (the limit counts the text as sent).
    for long in ["ż".repeat(501), format!("\t{}", "ż".repeat(500))] {
        body["evidence"] = json!(long);
        let r = app.post("/v1/consents", ADMIN_KEY, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_field");
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evidence"));
    }

    // The limit counts the reason as sent: 2001 characters are refused even when trimming
    // its leading tab would leave 2000 (found by the API fuzzer), and nothing changes.
    let id = made["id"].as_i64().unwrap();
    let r = app
        .delete(
            &format!("/v1/consents/{id}"),
            ADMIN_KEY,
            json!({"reason": format!("\t{}", "ę".repeat(2000))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_field", "{}", r.body);

    // A withdrawal reason of 2000 characters (4000 bytes) is taken.
    let r = app
        .delete(
            &format!("/v1/consents/{id}"),
            ADMIN_KEY,
            json!({"reason": "ę".repeat(2000)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Times that are not RFC 3339 are refused, not guessed at.
    for loose in [
        "2026-1-1T00:00:00Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00+0100",
    ] {
        let mut body = consent("601234568", "acme");
        body["given_at"] = json!(loose);
        let r = app.post("/v1/consents", ADMIN_KEY, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{loose}: {}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("RFC 3339"),
            "{loose}: {}",
            r.body
        );
    }
    assert_eq!(count(&app).await, 1);
}
