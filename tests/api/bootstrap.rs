//! TARCZA_BOOTSTRAP_ADMIN_KEY across restarts: revocation wins.

use axum::http::{Method, StatusCode};
use tarcza::domain::Role;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{request, Tarcza};

async fn bootstrap_key_id(app: &TestApp, admin: &str) -> i64 {
    let r = app.get("/v1/keys", admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let keys = r.body["keys"].as_array().unwrap();
    let key = keys
        .iter()
        .find(|k| k["name"] == "bootstrap-admin" && k["revoked_at"].is_null())
        .unwrap_or_else(|| panic!("no active bootstrap key in {keys:?}"));
    key["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_bootstrap_key_is_not_recreated_on_restart() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin).await;
    let id = bootstrap_key_id(&app, &admin).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The service restarts with TARCZA_BOOTSTRAP_ADMIN_KEY still set to the revoked secret.
    let t = Tarcza::start(&app.db_url).await;
    let r = request(t.addr, "GET", "/v1/keys", Some(ADMIN_KEY), None)
        .await
        .unwrap();
    assert_eq!(r.status, 401, "the revoked bootstrap key works again");
    let r = request(t.addr, "GET", "/v1/keys", Some(&admin), None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let keys = r.body["keys"].as_array().unwrap();
    let revoked = keys.iter().find(|k| k["id"] == id).unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert!(
        !keys
            .iter()
            .any(|k| k["name"] == "bootstrap-admin" && k["revoked_at"].is_null()),
        "a new bootstrap key was made: {keys:?}"
    );
    let log = t.log();
    assert!(
        log.contains("TARCZA_BOOTSTRAP_ADMIN_KEY") && log.contains("revoked"),
        "no warning about the revoked bootstrap key in:\n{log}"
    );
}

#[tokio::test]
async fn a_new_bootstrap_secret_after_a_revocation_makes_a_new_key() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin).await;
    let id = bootstrap_key_id(&app, &admin).await;
    app.call(
        Method::DELETE,
        &format!("/v1/keys/{id}"),
        Some(&admin),
        None,
    )
    .await;

    // Locked out, the operator sets a new secret: it works; the old one stays revoked.
    let fresh = "tz_a_new_bootstrap_secret_0123456789";
    tarcza::store::keys::bootstrap(&app.state.db, fresh)
        .await
        .expect("bootstrap with a new secret");
    app.state.index.refresh(&app.state.db).await.unwrap();
    assert_eq!(app.get("/v1/keys", fresh).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/keys", ADMIN_KEY).await.status,
        StatusCode::UNAUTHORIZED
    );
    let new_id = bootstrap_key_id(&app, fresh).await;
    assert_ne!(new_id, id);
    let r = app.get("/v1/keys", fresh).await;
    let old = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned();
    assert!(old.unwrap()["revoked_at"].is_string());
}
