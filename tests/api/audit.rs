use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::json;
use tarcza::domain::Role;

use crate::helpers::{urlencode, TestApp, ADMIN_KEY};

#[tokio::test]
async fn the_audit_log_says_who_blocked_and_unblocked_a_number_when_and_why() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": "+48 601 234 567", "reason": "customer asked on the phone"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_i64().unwrap();
    app.block("602234567").await;
    let r = app
        .delete(
            &format!("/v1/dnc/{id}"),
            ADMIN_KEY,
            json!({"reason": "entered by mistake"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = app
        .get(
            &format!("/v1/audit?number={}", urlencode("601 234 567")),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["number"], "+48601234567");
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{}", r.body);
    // Newest first: the removal, then the block.
    assert_eq!(events[0]["action"], "dnc.remove");
    assert_eq!(events[0]["actor"]["name"], "bootstrap-admin");
    assert_eq!(events[0]["actor"]["role"], "admin");
    assert_eq!(events[0]["details"]["reason"], "entered by mistake");
    assert_eq!(events[1]["action"], "dnc.add");
    assert_eq!(events[1]["actor"]["name"], "test agent");
    assert_eq!(events[1]["actor"]["role"], "agent");
    assert_eq!(
        events[1]["details"]["after"]["reason"],
        "customer asked on the phone"
    );
    assert_eq!(events[1]["number"], "+48601234567");
    assert_eq!(events[1]["subject"], format!("dnc:{id}"));
    assert!(events[0]["at"].as_str().unwrap() >= events[1]["at"].as_str().unwrap());
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_time_and_paged() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let r = app
        .delete("/v1/dnc/1", ADMIN_KEY, json!({"reason": "asked again"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let at = |t: chrono::DateTime<Utc>| urlencode(&t.to_rfc3339());
    let hour_ago = Utc::now() - Duration::hours(1);
    let in_an_hour = Utc::now() + Duration::hours(1);

    let uri = |q: String| format!("/v1/audit?number=601234567&{q}");
    let r = app
        .get(
            &uri(format!("from={}&to={}", at(hour_ago), at(in_an_hour))),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 2, "{}", r.body);
    let r = app
        .get(&uri(format!("from={}", at(in_an_hour))), ADMIN_KEY)
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 0);
    let r = app
        .get(&uri(format!("to={}", at(hour_ago))), ADMIN_KEY)
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 0);

    let r = app.get(&uri("limit=1".into()), ADMIN_KEY).await;
    let page = r.body["events"].as_array().unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["action"], "dnc.remove");
    let before = r.body["next_before_id"].as_i64().unwrap();
    let r = app
        .get(&uri(format!("limit=1&before_id={before}")), ADMIN_KEY)
        .await;
    assert_eq!(r.body["events"][0]["action"], "dnc.add");

    let bad = [
        (
            format!("from={}&to={}", at(in_an_hour), at(hour_ago)),
            "invalid_range",
        ),
        ("limit=0".to_string(), "invalid_limit"),
        ("limit=100000".to_string(), "invalid_limit"),
        ("from=yesterday".to_string(), "invalid_query"),
        ("colour=red".to_string(), "unknown_parameter"),
    ];
    for (q, code) in bad {
        let r = app.get(&uri(q.clone()), ADMIN_KEY).await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
        assert_eq!(r.body["error"]["code"], code, "{q}");
    }
    let r = app.get("/v1/audit?number=12", ADMIN_KEY).await;
    assert_eq!(r.body["error"]["code"], "invalid_number");
}

#[tokio::test]
async fn imports_and_keys_are_in_the_audit_log_too() {
    let app = TestApp::spawn().await;
    let r = app.upload("robinson", "", b"501234567\n".to_vec()).await;
    assert_eq!(r.body["status"], "succeeded");
    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "crm", "role": "agent"}),
        )
        .await;
    let key_id = r.body["id"].as_i64().unwrap();
    app.call(
        Method::DELETE,
        &format!("/v1/keys/{key_id}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    let r = app.get("/v1/audit", ADMIN_KEY).await;
    let actions: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "import.start",
        "import.succeeded",
        "key.create",
        "key.revoke",
    ] {
        assert!(
            actions.contains(&wanted),
            "{wanted} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_action_and_actor() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let id = app
        .post("/v1/dnc", &agent, json!({"number": "601234567"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    app.delete(
        &format!("/v1/dnc/{id}"),
        ADMIN_KEY,
        json!({"reason": "mistake"}),
    )
    .await;
    let actions = |uri: String| {
        let app = &app;
        async move {
            let r = app.get(&uri, ADMIN_KEY).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
            r.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        actions("/v1/audit?action=dnc.remove".into()).await,
        ["dnc.remove"]
    );
    assert_eq!(
        actions("/v1/audit?action=dnc.*".into()).await,
        ["dnc.remove", "dnc.add"]
    );
    // Key names compare case-insensitively; a number is a key id.
    assert_eq!(
        actions("/v1/audit?actor=TEST+AGENT".into()).await,
        ["dnc.add"]
    );
    let agent_id = app.get("/v1/keys", ADMIN_KEY).await.body["keys"][1]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        actions(format!("/v1/audit?actor={agent_id}&action=dnc.*")).await,
        ["dnc.add"]
    );
    assert_eq!(
        actions("/v1/audit?actor=bootstrap-admin&action=key.*".into()).await,
        ["key.create"]
    );
    assert!(actions("/v1/audit?actor=nobody".into()).await.is_empty());
    for q in ["action=DROP%20TABLE", "action=*.add", "actor="] {
        let r = app.get(&format!("/v1/audit?{q}"), ADMIN_KEY).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.body
        );
    }
}
