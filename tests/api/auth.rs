use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::helpers::{TestApp, ADMIN_KEY};

/// Every route with the least role it needs.
fn routes() -> Vec<(Method, &'static str, Option<Value>, Role)> {
    vec![
        (
            Method::GET,
            "/v1/check?number=601234567",
            None,
            Role::Dialer,
        ),
        (
            Method::POST,
            "/v1/check",
            Some(json!({"numbers": ["601234567"]})),
            Role::Dialer,
        ),
        (Method::GET, "/v1/registries", None, Role::Dialer),
        (Method::GET, "/v1/registries/robinson", None, Role::Dialer),
        (
            Method::POST,
            "/v1/dnc",
            Some(json!({"number": "601234567"})),
            Role::Agent,
        ),
        (Method::GET, "/v1/dnc?number=601234567", None, Role::Agent),
        (Method::GET, "/v1/dnc/1", None, Role::Agent),
        (Method::GET, "/v1/dnc", None, Role::Agent),
        (Method::GET, "/v1/stats", None, Role::Dialer),
        (
            Method::GET,
            "/v1/registries/robinson/imports",
            None,
            Role::Ops,
        ),
        (
            Method::GET,
            "/v1/registries/robinson/imports/1",
            None,
            Role::Ops,
        ),
        (
            Method::POST,
            "/v1/registries/robinson/imports",
            None,
            Role::Ops,
        ),
        (
            Method::DELETE,
            "/v1/dnc/1",
            Some(json!({"reason": "test"})),
            Role::Admin,
        ),
        (Method::GET, "/v1/keys", None, Role::Admin),
        (Method::GET, "/v1/audit?number=601234567", None, Role::Admin),
        (Method::GET, "/v1/changes", None, Role::Dialer),
        (
            Method::POST,
            "/v1/dnc/imports?dry_run=true",
            None,
            Role::Agent,
        ),
        (Method::POST, "/v1/dnc/drift", None, Role::Agent),
        (
            Method::POST,
            "/v1/keys",
            Some(json!({"name": "x", "role": "dialer"})),
            Role::Admin,
        ),
        (Method::DELETE, "/v1/keys/999", None, Role::Admin),
        (
            Method::POST,
            "/v1/consents",
            Some(
                json!({"number": "601234567", "client": "acme", "purpose": "marketing",
                        "evidence": "rec-1", "source": "agent",
                        "given_at": "2026-01-01T00:00:00Z"}),
            ),
            Role::Agent,
        ),
        (
            Method::GET,
            "/v1/consents?number=601234567",
            None,
            Role::Agent,
        ),
        (Method::GET, "/v1/consents/1", None, Role::Agent),
        (
            Method::DELETE,
            "/v1/consents/999",
            Some(json!({"reason": "test"})),
            Role::Agent,
        ),
        (
            Method::PUT,
            "/v1/policies/clients/acme",
            Some(json!({"consent_required": false})),
            Role::Admin,
        ),
        (Method::GET, "/v1/policies/clients/acme", None, Role::Admin),
        (
            Method::PUT,
            "/v1/policies/clients/acme/campaigns/summer",
            Some(json!({"consent_required": false})),
            Role::Admin,
        ),
        (
            Method::GET,
            "/v1/policies/clients/acme/campaigns/summer",
            None,
            Role::Admin,
        ),
    ]
}

#[tokio::test]
async fn every_route_checks_the_key_and_the_role() {
    let app = TestApp::spawn().await;
    let mut keys = vec![];
    for role in Role::ALL {
        keys.push((role, app.key(role).await));
    }
    let revoked = app.key(Role::Admin).await;
    let revoked_id = app.get("/v1/keys", ADMIN_KEY).await.body["keys"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/keys/{revoked_id}"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    for (method, uri, body, needed) in routes() {
        let r = app.call(method.clone(), uri, None, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} without a key"
        );
        assert_eq!(r.body["error"]["code"], "unauthorized");
        let r = app
            .call(method.clone(), uri, Some("tz_not_a_key"), body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} unknown key"
        );
        let r = app
            .call(method.clone(), uri, Some(&revoked), body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} revoked key"
        );
        for (role, key) in &keys {
            let r = app.call(method.clone(), uri, Some(key), body.clone()).await;
            if role.allows(needed) {
                assert!(
                    r.status != StatusCode::UNAUTHORIZED && r.status != StatusCode::FORBIDDEN,
                    "{method} {uri} as {role}: {} {}",
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri} as {role}");
                assert_eq!(r.body["error"]["code"], "forbidden");
            }
        }
    }
}

#[tokio::test]
async fn a_key_is_shown_once_listed_without_secret_and_dies_when_revoked() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "dialer 1", "role": "dialer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let key = r.body["key"].as_str().unwrap().to_string();
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["role"], "dialer");
    assert!(key.starts_with("tz_"));
    assert_eq!(
        app.get("/v1/check?number=601234567", &key).await.status,
        StatusCode::OK
    );

    let list = app.get("/v1/keys", ADMIN_KEY).await;
    assert!(
        !list.body.to_string().contains(&key),
        "secrets never listed"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_ne!(stored, key.as_bytes(), "stored hashed");

    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["revoked_at"].is_string());
    assert_eq!(
        app.get("/v1/check?number=601234567", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .call(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn bad_key_requests_are_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/v1/keys", ADMIN_KEY, json!({"name": "x", "role": "root"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "invalid_role");
    let r = app
        .post("/v1/keys", ADMIN_KEY, json!({"name": " ", "role": "ops"}))
        .await;
    assert_eq!(r.body["error"]["code"], "invalid_name");
    let r = app
        .call(Method::GET, "/v1/keys", Some("Basic abc"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_bootstrap_key_is_refreshed_not_duplicated() {
    let app = TestApp::spawn().await;
    let new_secret = "tz_rotated_bootstrap_key_987654321";
    tarcza::store::keys::bootstrap(&app.state.db, new_secret)
        .await
        .unwrap();
    app.state.index.refresh(&app.state.db).await.unwrap();
    assert_eq!(
        app.get("/v1/keys", ADMIN_KEY).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.get("/v1/keys", new_secret).await;
    assert_eq!(r.status, StatusCode::OK);
    let named: Vec<_> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "bootstrap-admin")
        .collect();
    assert_eq!(named.len(), 1);
}

#[tokio::test]
async fn a_change_made_through_one_replica_reaches_another() {
    let app = TestApp::spawn().await;
    let other = app.replica().await;
    app.block("601234567").await;
    // The other process learns of it through NOTIFY or reconciliation: one run_once step.
    tarcza::jobs::changes::run_once(&other.state.db, &other.state.index)
        .await
        .unwrap();
    assert!(!other.allowed("601234567").await);
}
