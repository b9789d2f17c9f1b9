//! The drift report (`POST /v1/dnc/drift`): a CRM's contact export against what tarcza
//! blocks, per client — the flags the CRM forgot, the ones it has that tarcza does not,
//! rejects — and `apply=true` adding the latter as the bulk sync does.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tarcza::domain::Role;
use tower::ServiceExt;

use crate::changes::feed;
use crate::helpers::{gzip, Response, TestApp, ADMIN_KEY};

async fn post(app: &TestApp, key: &str, path: &str, accept: &str, bytes: Vec<u8>) -> Response {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .header(header::ACCEPT, accept)
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

async fn drift(app: &TestApp, key: &str, query: &str, bytes: Vec<u8>) -> Response {
    let path = format!("/v1/dnc/drift?{query}");
    post(app, key, &path, "application/json", bytes).await
}

/// The client report of `client` (`null` for rows without one).
fn client(body: &Value, name: Value) -> &Value {
    body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == name)
        .unwrap_or_else(|| panic!("no report for {name} in {body}"))
}

fn numbers(findings: &Value) -> BTreeSet<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["number"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// What the CRM pushed: Acme's ten flags and Beta's five.
fn crm_flags() -> Vec<(&'static str, String)> {
    let acme = (1..=10).map(|i| ("Acme", format!("60100{i:04}")));
    let beta = (1..=5).map(|i| ("Beta", format!("60200{i:04}")));
    acme.chain(beta).collect()
}

/// Tarcza's data: the CRM's flags by bulk sync, and blocks the CRM never had.
async fn setup(app: &TestApp, agent: &str) {
    let mut file = String::from("Numer telefonu;Klient\n");
    for (c, n) in crm_flags() {
        file.push_str(&format!("{n};{c}\n"));
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/dnc/imports")
        .header(header::AUTHORIZATION, format!("Bearer {agent}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(file))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 15);
    // An agent's global block, a block for Beta only, a block for one of Acme's
    // campaigns, a prefix, and a registry.
    app.block("511111111").await;
    for body in [
        json!({"number": "602009999", "client": "beta", "reason": "asked Beta's agent"}),
        json!({"number": "601777777", "client": "Acme", "campaign": "spring"}),
        json!({"prefix": "+48 70", "reason": "premium rate"}),
    ] {
        let r = app.post("/v1/dnc", ADMIN_KEY, body).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let r = app.upload("robinson", "", b"503000001\n".to_vec()).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
}

/// The CRM's export after an overwrite lost Acme's flags on 601000003 and 601000007.
fn export(lost: &[&str]) -> String {
    let mut file = String::from("Klient,Imię,Telefon,Nie dzwonić\n");
    for (c, n) in crm_flags() {
        let flag = if lost.contains(&n.as_str()) {
            "nie"
        } else {
            "TAK"
        };
        file.push_str(&format!("{c},Jan,{n},{flag}\n"));
    }
    file.push_str(
        "Acme,Ewa,601000003,0\n\
         Acme,Ola,511 111 111,false\n\
         Acme,Ala,+48 503 000 001,no\n\
         Acme,Iza,602009999,nie\n\
         Acme,Ula,601777777,nie\n\
         Acme,Ina,601555555,yes\n\
         Acme,Eli,601999999,0\n\
         Beta,Jan,602009999,nie\n\
         Beta,Jan,700 123 456,false\n\
         Beta,Jan,602000001,maybe\n\
         Beta,Jan,12,1\n\
         ,Bez,601888888,1\n",
    );
    file
}

#[tokio::test]
async fn forgotten_flags_are_named_exactly_candidates_too_and_apply_adds_them() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    setup(&app, &agent).await;
    let (_, cursor) = feed(&app, ADMIN_KEY, "").await;
    let file = export(&["601000003", "601000007"]);
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries WHERE active")
        .fetch_one(&app.state.db)
        .await
        .unwrap();

    let r = drift(&app, &agent, "", gzip(file.as_bytes())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = &r.body;
    // 15 CRM rows and 12 more; the header is not a row.
    assert_eq!(body["rows_total"], 27);
    assert_eq!(body["rows_rejected"], 2);
    let lines: Vec<(i64, &str)> = body["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(lines[0], (26, "invalid_flag"));
    assert_eq!(lines[1].0, 27);

    // Acme: the two lost flags (601000003 once, though it is there twice), the global
    // block, the registry; not Beta's block, not the campaign's, not a clean contact.
    let acme = client(body, json!("Acme"));
    assert_eq!(
        numbers(&acme["forgotten"]),
        set(&[
            "+48601000003",
            "+48601000007",
            "+48511111111",
            "+48503000001"
        ]),
        "{acme}"
    );
    assert_eq!(numbers(&acme["candidates"]), set(&["+48601555555"]));
    assert_eq!(acme["counts"]["forgotten"], 4);
    assert_eq!(acme["counts"]["contacts"], 17);
    assert_eq!(acme["counts"]["flagged"], 9);
    let lost = acme["forgotten"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["number"] == "+48601000003")
        .unwrap();
    assert_eq!(lost["line"], 4, "its first line");
    assert_eq!(lost["reasons"][0]["source"], "dnc");
    assert_eq!(lost["reasons"][0]["scope"], "client");
    assert_eq!(lost["reasons"][0]["client"], "Acme");
    let registry = acme["forgotten"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["number"] == "+48503000001")
        .unwrap();
    assert_eq!(
        registry["reasons"],
        json!([{"source": "registry", "registry": "robinson"}])
    );

    // Beta: its own block and the prefix; the bad rows are rejects, not findings.
    let beta = client(body, json!("Beta"));
    assert_eq!(
        numbers(&beta["forgotten"]),
        set(&["+48602009999", "+48700123456"])
    );
    let prefixed = beta["forgotten"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["number"] == "+48700123456")
        .unwrap();
    assert_eq!(prefixed["reasons"][0]["prefix"], "+4870");
    assert_eq!(beta["candidates"], json!([]));
    // A row without a client is checked as a call for no client.
    let none = client(body, Value::Null);
    assert_eq!(numbers(&none["candidates"]), set(&["+48601888888"]));
    assert_eq!(body["totals"]["forgotten"], 6);
    assert_eq!(body["totals"]["candidates"], 2);
    assert_eq!(body["applied"], Value::Null);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries WHERE active")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(before, after, "a report alone changes nothing");
    // An agent blocks a number in tarcza: the change feed tells the CRM.
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": "601 444 444", "client": "acme", "reason": "said stop"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (changes, _) = feed(&app, ADMIN_KEY, &cursor).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["action"], "dnc.add");
    assert_eq!(changes[0]["number"], "+48601444444");
    assert_eq!(changes[0]["actor"]["role"], "agent", "{changes:?}");

    // apply=true adds the candidates as the bulk sync would.
    let r = drift(
        &app,
        &agent,
        "apply=true&max_reject_rate=0.1",
        file.clone().into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["applied"]["created"], 2, "{}", r.body);
    let c = app
        .get("/v1/check?number=601555555&client=acme", ADMIN_KEY)
        .await;
    assert_eq!(c.body["allowed"], false, "{}", c.body);
    assert_eq!(c.body["reasons"][0]["scope"], "client");
    assert!(!app.allowed("601888888").await, "no client: a global entry");
    let (changes, _) = feed(&app, ADMIN_KEY, &cursor).await;
    let added: BTreeSet<String> = changes
        .iter()
        .filter(|c| c["action"] == "dnc.add" && c["source"] == "crm")
        .map(|c| c["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(added, set(&["+48601555555", "+48601888888"]));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'dnc.import' AND subject LIKE 'crm-drift:%'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // The same export again: no candidates left; the forgotten flags are the CRM's to fix.
    let r = drift(
        &app,
        &agent,
        "apply=true&max_reject_rate=0.1",
        file.into_bytes(),
    )
    .await;
    assert_eq!(r.body["totals"]["candidates"], 0, "{}", r.body);
    assert_eq!(r.body["applied"]["created"], 0);
    assert_eq!(r.body["applied"]["snapshot_version"], Value::Null);
    assert_eq!(r.body["totals"]["forgotten"], 6);
    // The CRM restores what it lost and flags what tarcza told it: clean.
    let mut fixed = String::from("phone;client;dnc\n");
    for (c, n) in crm_flags() {
        fixed.push_str(&format!("{n};{c};1\n"));
    }
    for (n, c) in [
        ("511111111", "Acme"),
        ("503000001", "Acme"),
        ("601555555", "Acme"),
        ("601999999", "Acme"),
        ("602009999", "Beta"),
        ("700123456", "Beta"),
    ] {
        let flag = if n == "601999999" { 0 } else { 1 };
        fixed.push_str(&format!("{n};{c};{flag}\n"));
    }
    let r = drift(&app, &agent, "", fixed.into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totals"]["forgotten"], 0, "{}", r.body);
    assert_eq!(r.body["totals"]["candidates"], 0);
    assert_eq!(r.body["rows_rejected"], 0);
}

#[tokio::test]
async fn a_csv_answer_has_a_row_per_finding_and_defuses_formulas() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "client": "=HYPERLINK(1)", "reason": "+asked"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let file = "client\tdnc\tnumber\n=HYPERLINK(1)\tno\t601234567\n=HYPERLINK(1)\tyes\t501234567\n";
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/dnc/drift")
        .header(header::AUTHORIZATION, format!("Bearer {agent}"))
        .header(header::ACCEPT, "text/csv")
        .body(Body::from(file))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "client,number,kind,line,reasons");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("\"'=HYPERLINK(1)\",+48601234567,forgotten,2,"));
    assert!(
        lines[1].contains("(client =HYPERLINK(1)): +asked"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "\"'=HYPERLINK(1)\",+48501234567,candidate,3,");
}

#[tokio::test]
async fn a_dialer_may_not_and_a_bad_export_is_refused_changing_nothing() {
    let app = TestApp::spawn().await;
    let dialer = app.key(Role::Dialer).await;
    let agent = app.key(Role::Agent).await;
    let file = b"number,dnc\n601234567,1\n".to_vec();
    let r = drift(&app, &dialer, "apply=true", file.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // No flag column.
    let r = drift(
        &app,
        &agent,
        "apply=true",
        b"number,client\n601234567,a\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "upload_refused");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nie_dzwonic"));
    // Strict parameters, no rows.
    let r = drift(&app, &agent, "aply=true", file.clone()).await;
    assert_eq!(r.status.as_u16() / 100, 4, "{}", r.body);
    let r = drift(&app, &agent, "", b"number,dnc\n\n".to_vec()).await;
    assert_eq!(r.body["error"]["code"], "no_rows", "{}", r.body);
    // Too many rejects: reported, nothing applied.
    let bad = b"number,dnc\n601234567,1\n601234568,perhaps\n601234569,?\n".to_vec();
    let r = drift(&app, &agent, "apply=true&max_reject_rate=0.5", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "too_many_rejects");
    assert_eq!(r.body["totals"]["candidates"], 1);
    assert_eq!(r.body["applied"], Value::Null);
    assert!(app.allowed("601234567").await, "nothing was applied");
    // JSON Lines.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/dnc/drift")
        .header(header::AUTHORIZATION, format!("Bearer {agent}"))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from(
            "{\"number\": \"601234567\", \"dnc\": true, \"client\": \"acme\"}\n{\"number\": \"601234567\", \"dnc\": \"1\"}\n",
        ))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totals"]["candidates"], 1);
    assert_eq!(r.body["rejects"][0]["line"], 2);
    assert!(app.allowed("601234567").await);
}
