//! Query strings that must not be misread: a literal `+` in `number`, unknown and
//! repeated parameters.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{TestApp, ADMIN_KEY};

#[tokio::test]
async fn a_literal_plus_in_number_is_a_plus_on_every_endpoint_that_takes_a_number() {
    let app = TestApp::spawn().await;
    // A Vienna number; read with a space for its plus it would be +48 431 234 567.
    let entry = app.block("+43 1 234567").await;
    assert_eq!(entry["number"], "+431234567");

    for spelling in [
        "+431234567",
        "tel:+431234567",
        "+43+1+234567",
        "%2B43+1+234567",
    ] {
        let r = app
            .get(&format!("/v1/check?number={spelling}"), ADMIN_KEY)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{spelling}: {}", r.body);
        assert_eq!(r.body["number"], "+431234567", "{spelling}");
        assert_eq!(r.body["allowed"], false, "{spelling}");
    }

    let r = app.get("/v1/dnc?number=+431234567", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["number"], "+431234567");
    assert_eq!(r.body["entries"][0]["id"], entry["id"]);

    let r = app.get("/v1/audit?number=+431234567", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["number"], "+431234567");
    assert_eq!(r.body["events"][0]["action"], "dnc.add");

    // Form encoders write spaces as `+`: those still read as spaces.
    for spelling in ["601+234+567", "%2B48+601+234+567", "+48+601+234+567"] {
        let r = app
            .get(&format!("/v1/check?number={spelling}"), ADMIN_KEY)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{spelling}: {}", r.body);
        assert_eq!(r.body["number"], "+48601234567", "{spelling}");
    }
}

#[tokio::test]
async fn a_misspelt_client_parameter_is_refused_not_ignored() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "client": "ACME"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    for misspelt in ["Client", "client_id", "CLIENT", "campain"] {
        let r = app
            .get(
                &format!("/v1/check?number=601234567&{misspelt}=ACME"),
                ADMIN_KEY,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{misspelt}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "unknown_parameter");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("{misspelt:?}")), "{message}");
        assert!(message.contains("number, client, campaign"), "{message}");
    }

    let r = app
        .get(
            "/v1/check?number=601234567&client=other&client=ACME",
            ADMIN_KEY,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "duplicate_parameter");

    let r = app
        .get("/v1/check?number=601234567&client=ACME", ADMIN_KEY)
        .await;
    assert_eq!(r.body["allowed"], false, "{}", r.body);
}

#[tokio::test]
async fn every_endpoint_refuses_a_parameter_it_does_not_take_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let entry = app.block("601234567").await;
    let id = entry["id"].as_i64().unwrap();
    let csv = b"501234567\n".to_vec();

    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/healthz".into(), None),
        (Method::GET, "/readyz".into(), None),
        (Method::GET, "/v1/check?number=601234567".into(), None),
        (
            Method::POST,
            "/v1/check".into(),
            Some(json!({"numbers": ["601234567"]})),
        ),
        (
            Method::POST,
            "/v1/dnc".into(),
            Some(json!({"number": "602234567"})),
        ),
        (Method::GET, "/v1/dnc?number=601234567".into(), None),
        (Method::GET, format!("/v1/dnc/{id}"), None),
        (
            Method::DELETE,
            format!("/v1/dnc/{id}"),
            Some(json!({"reason": "x"})),
        ),
        (Method::GET, "/v1/keys".into(), None),
        (
            Method::POST,
            "/v1/keys".into(),
            Some(json!({"name": "k", "role": "dialer"})),
        ),
        (Method::DELETE, "/v1/keys/1".into(), None),
        (Method::GET, "/v1/audit".into(), None),
        (Method::GET, "/v1/registries".into(), None),
        (Method::GET, "/v1/registries/robinson".into(), None),
        (Method::GET, "/v1/registries/robinson/imports".into(), None),
        (
            Method::GET,
            "/v1/registries/robinson/imports/1".into(),
            None,
        ),
        (Method::POST, "/v1/registries/robinson/sync".into(), None),
    ];
    for (method, uri, body) in calls {
        let sep = if uri.contains('?') { '&' } else { '?' };
        let uri = format!("{uri}{sep}bogus=1");
        let r = app.call(method.clone(), &uri, Some(ADMIN_KEY), body).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {uri}: {}",
            r.body
        );
        assert_eq!(
            r.body["error"]["code"], "unknown_parameter",
            "{method} {uri}"
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("\"bogus\""), "{method} {uri}: {message}");
    }
    let r = app.upload("robinson", "mode=snapshot&bogus=1", csv).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unknown_parameter");

    // Nothing changed: the entry is active, no new entry, key or import.
    let r = app.get(&format!("/v1/dnc/{id}"), ADMIN_KEY).await;
    assert_eq!(r.body["active"], true, "{}", r.body);
    assert!(!app.allowed("601234567").await);
    assert!(app.allowed("602234567").await);
    assert!(app.allowed("501234567").await);
    let count = |table: &'static str| {
        let db = app.state.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("dnc_entries").await, 1);
    assert_eq!(count("api_keys").await, 1);
    assert_eq!(count("imports").await, 0);
}
