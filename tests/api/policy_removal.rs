//! Removing a policy (`DELETE /v1/policies/…`): admin only, audited, `404` when there is
//! none; a campaign falls back to its client's policy, and every process stops applying
//! the removed one.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::consents::{consent, give};
use crate::helpers::{TestApp, ADMIN_KEY};
use crate::policies::{check, put_policy};

async fn remove(app: &TestApp, path: &str, key: &str) -> (StatusCode, Value) {
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/policies/{path}"),
            Some(key),
            None,
        )
        .await;
    (r.status, r.body)
}

#[tokio::test]
async fn removing_a_campaign_policy_falls_back_to_the_clients_and_every_process_sees_it() {
    let app = TestApp::spawn().await;
    let replica = app.replica().await;
    put_policy(&app, "clients/acme", json!({"consent_required": false})).await;
    put_policy(
        &app,
        "clients/acme/campaigns/summer",
        json!({"consent_required": true}),
    )
    .await;
    replica
        .state
        .index
        .refresh(&replica.state.db)
        .await
        .unwrap();
    for process in [&app, &replica] {
        let blocked = check(process, "601234567", Some("acme"), Some("summer")).await;
        assert_eq!(blocked["reasons"][0]["code"], "no_consent", "{blocked}");
    }

    let (status, body) = remove(&app, "clients/ACME/campaigns/Summer", ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["removed"]["campaign"], "summer");
    assert_eq!(body["removed"]["consent_required"], true);
    assert_eq!(body["effective"]["campaign"], Value::Null);
    assert_eq!(body["effective"]["consent_required"], false);
    // The admin's explicit act: the number is callable again, here and on the replica
    // once it reads the change its notification announces (as its listener does).
    replica
        .state
        .index
        .refresh(&replica.state.db)
        .await
        .unwrap();
    for process in [&app, &replica] {
        let after = check(process, "601234567", Some("acme"), Some("summer")).await;
        assert_eq!(after["allowed"], true, "{after}");
    }
    let read = app
        .get("/v1/policies/clients/acme/campaigns/summer", ADMIN_KEY)
        .await;
    assert_eq!(read.body["policy"], Value::Null, "{}", read.body);
    assert_eq!(read.body["effective"]["consent_required"], false);
    let listed = app.get("/v1/policies/clients/acme", ADMIN_KEY).await;
    assert_eq!(listed.body["campaigns"], json!([]), "{}", listed.body);

    // Gone: a second removal is a 404 and writes nothing.
    let (status, body) = remove(&app, "clients/acme/campaigns/summer", ADMIN_KEY).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    // Set again, it applies again.
    put_policy(
        &app,
        "clients/acme/campaigns/summer",
        json!({"consent_required": true}),
    )
    .await;
    let again = check(&app, "601234567", Some("acme"), Some("summer")).await;
    assert_eq!(again["allowed"], false, "{again}");
}

#[tokio::test]
async fn removing_a_clients_policy_is_admin_only_audited_and_keeps_its_campaigns() {
    let app = TestApp::spawn().await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    put_policy(
        &app,
        "clients/acme/campaigns/winter",
        json!({"consent_required": true, "purpose": "surveys"}),
    )
    .await;
    give(&app, consent("602234567", "acme")).await;
    for role in [Role::Agent, Role::Ops] {
        let key = app.key(role).await;
        let (status, _) = remove(&app, "clients/acme", &key).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
    }
    let (status, body) = remove(&app, "clients/nobody", ADMIN_KEY).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = remove(&app, "clients/acme", ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["removed"]["consent_required"], true);
    assert_eq!(body["effective"], Value::Null);

    // The client's calls are under no policy; the campaign's own still applies.
    assert_eq!(
        check(&app, "601234567", Some("acme"), None).await["allowed"],
        true
    );
    let winter = check(&app, "602234567", Some("acme"), Some("winter")).await;
    assert_eq!(winter["reasons"][0]["purpose"], "surveys", "{winter}");

    let audit = app.get("/v1/audit?limit=10", ADMIN_KEY).await;
    let removals: Vec<&Value> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "policy.remove")
        .collect();
    assert_eq!(removals.len(), 1, "{}", audit.body);
    assert_eq!(removals[0]["details"]["before"]["consent_required"], true);
    assert_eq!(removals[0]["details"]["after"], Value::Null);
    assert_eq!(removals[0]["details"]["campaign"], Value::Null);
    assert_eq!(removals[0]["actor"]["role"], "admin");
}
