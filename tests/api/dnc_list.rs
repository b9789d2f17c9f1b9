//! `GET /v1/dnc` without a number: the list with filters and paging, and its CSV export;
//! prefix entries in it.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tarcza::domain::Role;
use tower::ServiceExt;

use crate::helpers::{TestApp, ADMIN_KEY};

async fn add(app: &TestApp, key: &str, body: Value) -> i64 {
    let r = app.post("/v1/dnc", key, body).await;
    assert!(r.status.is_success(), "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

fn numbers(body: &Value) -> Vec<&str> {
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_filters_by_scope_client_state_source_and_date() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    add(
        &app,
        &agent,
        json!({"number": "601000001", "source": "agent"}),
    )
    .await;
    add(
        &app,
        &agent,
        json!({"number": "601000002", "client": "ACME", "source": "CRM"}),
    )
    .await;
    add(
        &app,
        &agent,
        json!({"number": "601000003", "client": "acme", "campaign": "Lato", "source": "crm"}),
    )
    .await;
    let removed = add(&app, &agent, json!({"number": "601000004"})).await;
    let r = app
        .delete(
            &format!("/v1/dnc/{removed}"),
            ADMIN_KEY,
            json!({"reason": "mistake"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let list = |q: &'static str| {
        let app = &app;
        let agent = agent.clone();
        async move {
            let r = app.get(&format!("/v1/dnc?{q}"), &agent).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
            r.body
        }
    };
    let all = list("").await;
    assert_eq!(
        numbers(&all),
        [
            "+48601000004",
            "+48601000003",
            "+48601000002",
            "+48601000001"
        ]
    );
    assert_eq!(all["next_before_id"], Value::Null);
    // Who made the entry is named, not only numbered.
    assert_eq!(all["entries"][3]["created_by_name"], "test agent");
    assert_eq!(all["entries"][0]["deactivated_by_name"], "bootstrap-admin");
    assert_eq!(all["entries"][0]["state"], "removed");

    assert_eq!(
        numbers(&list("scope=global").await),
        ["+48601000004", "+48601000001"]
    );
    assert_eq!(numbers(&list("scope=client").await), ["+48601000002"]);
    // Client names compare as scopes do: ACME is acme.
    assert_eq!(
        numbers(&list("client=Acme").await),
        ["+48601000003", "+48601000002"]
    );
    assert_eq!(numbers(&list("campaign=LATO").await), ["+48601000003"]);
    assert_eq!(numbers(&list("state=removed").await), ["+48601000004"]);
    assert_eq!(
        numbers(&list("state=active&scope=global").await),
        ["+48601000001"]
    );
    assert_eq!(
        numbers(&list("source=crm").await),
        ["+48601000003", "+48601000002"]
    );
    let future = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let r = app
        .get(
            &format!("/v1/dnc?from={}", crate::helpers::urlencode(&future)),
            &agent,
        )
        .await;
    assert_eq!(numbers(&r.body), Vec::<&str>::new());
    let r = app
        .get(
            &format!("/v1/dnc?to={}", crate::helpers::urlencode(&future)),
            &agent,
        )
        .await;
    assert_eq!(numbers(&r.body).len(), 4);

    for (q, code) in [
        ("scope=world", "invalid_scope"),
        ("state=gone", "invalid_state"),
        ("limit=0", "invalid_limit"),
        ("client=", "invalid_parameter"),
        ("format=xml", "unsupported_format"),
        ("Client=acme", "unknown_parameter"),
    ] {
        let r = app.get(&format!("/v1/dnc?{q}"), &agent).await;
        assert!(r.status.is_client_error(), "{q}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{q}");
    }
    // A dialer may not read the list.
    let dialer = app.key(Role::Dialer).await;
    assert_eq!(
        app.get("/v1/dnc", &dialer).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_list_pages_back_with_next_before_id() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        add(&app, ADMIN_KEY, json!({"number": format!("60100001{i}")})).await;
    }
    let first = app.get("/v1/dnc?limit=2", ADMIN_KEY).await;
    assert_eq!(numbers(&first.body), ["+48601000014", "+48601000013"]);
    let next = first.body["next_before_id"].as_i64().unwrap();
    let second = app
        .get(&format!("/v1/dnc?limit=2&before_id={next}"), ADMIN_KEY)
        .await;
    assert_eq!(numbers(&second.body), ["+48601000012", "+48601000011"]);
    let next = second.body["next_before_id"].as_i64().unwrap();
    let last = app
        .get(&format!("/v1/dnc?limit=2&before_id={next}"), ADMIN_KEY)
        .await;
    assert_eq!(numbers(&last.body), ["+48601000010"]);
    assert_eq!(last.body["next_before_id"], Value::Null);
}

async fn csv(app: &TestApp, uri: &str, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"));
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let content_type = res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn the_filtered_list_exports_as_csv_in_full() {
    let app = TestApp::spawn().await;
    // More than one page of the export (1000 rows a page).
    let numbers: Vec<String> = (0..1203).map(|i| format!("60200{i:04}")).collect();
    let mut tx = app.state.db.begin().await.unwrap();
    for n in &numbers {
        sqlx::query("INSERT INTO dnc_entries (number, source, version) VALUES ($1, 'crm', 1)")
            .bind(format!("48{n}").parse::<i64>().unwrap())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    add(
        &app,
        ADMIN_KEY,
        json!({"number": "601000001", "client": "a,b", "reason": "=1+2 \"quoted\"", "source": "agent"}),
    )
    .await;

    let (status, content_type, body) = csv(&app, "/v1/dnc?format=csv&source=crm", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("id,number,prefix,state,scope,client"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines.len(),
        1 + 1203,
        "every matching entry, over several pages"
    );
    let mut seen: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1203);

    let (_, _, body) = csv(&app, "/v1/dnc?source=agent", Some("text/csv")).await;
    let row = body.split("\r\n").nth(1).unwrap();
    assert!(
        row.contains(",+48601000001,,active,client,\"a,b\",,\"'=1+2 \"\"quoted\"\"\",agent,"),
        "{row}"
    );
    assert!(row.contains(",bootstrap-admin,"), "{row}");

    let (status, _, body) = csv(&app, "/v1/dnc?format=csv&limit=5", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn the_list_of_one_number_keeps_its_shape_with_active_entries_first() {
    let app = TestApp::spawn().await;
    let old = add(&app, ADMIN_KEY, json!({"number": "601000001"})).await;
    app.delete(
        &format!("/v1/dnc/{old}"),
        ADMIN_KEY,
        json!({"reason": "mistake"}),
    )
    .await;
    let newer = add(
        &app,
        ADMIN_KEY,
        json!({"number": "601000001", "client": "x"}),
    )
    .await;
    let newest = add(&app, ADMIN_KEY, json!({"number": "601000001"})).await;
    let r = app.get("/v1/dnc?number=601000001", ADMIN_KEY).await;
    assert_eq!(r.body["number"], "+48601000001");
    let ids: Vec<i64> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [newest, newer, old]);
    let r = app
        .get("/v1/dnc?number=601000001&state=removed", ADMIN_KEY)
        .await;
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 1);
    let one = app.get(&format!("/v1/dnc/{old}"), ADMIN_KEY).await;
    assert_eq!(one.body["deactivated_by_name"], "bootstrap-admin");
}

#[tokio::test]
async fn prefix_entries_are_listed_filtered_by_kind_and_exported_with_their_prefix() {
    let app = TestApp::spawn().await;
    let number = add(&app, ADMIN_KEY, json!({"number": "701234567"})).await;
    let wide = add(
        &app,
        ADMIN_KEY,
        json!({"prefix": "+48 70", "reason": "range"}),
    )
    .await;
    let other = add(&app, ADMIN_KEY, json!({"prefix": "+48 71"})).await;

    let ids = |body: &Value| -> Vec<i64> {
        body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    let r = app.get("/v1/dnc", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&r.body), [other, wide, number]);
    assert_eq!(r.body["entries"][1]["prefix"], "+4870");
    assert!(r.body["entries"][1].get("number").is_none(), "{}", r.body);
    let r = app.get("/v1/dnc?kind=prefix", ADMIN_KEY).await;
    assert_eq!(ids(&r.body), [other, wide]);
    let r = app.get("/v1/dnc?kind=number", ADMIN_KEY).await;
    assert_eq!(ids(&r.body), [number]);
    let r = app.get("/v1/dnc?kind=range", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_kind", "{}", r.body);

    // A number's list holds the prefix entries that cover it, and the filters apply to them.
    let r = app
        .get("/v1/dnc?number=701234567&kind=prefix", ADMIN_KEY)
        .await;
    assert_eq!(r.body["number"], "+48701234567");
    assert_eq!(ids(&r.body), [wide]);
    let r = app.get("/v1/dnc?prefix=%2B4871", ADMIN_KEY).await;
    assert_eq!(r.body["prefix"], "+4871");
    assert_eq!(ids(&r.body), [other]);

    let (status, _, body) = csv(&app, "/v1/dnc?format=csv&kind=prefix", None).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(
        lines[2].starts_with(&format!("{wide},,+4870,active,global,,,range,")),
        "{}",
        lines[2]
    );
}
