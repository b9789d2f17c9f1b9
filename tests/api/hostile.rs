//! Hostile and malformed input against every endpoint that reads input: each gets a 4xx
//! with our error body, none a 5xx, and nothing changes. (POST /v1/dnc has its own,
//! more detailed table in dnc.rs.)

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use tarcza::http::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{parse_reply, request};

const INJECTIONS: &[&str] = &[
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "=HYPERLINK(\"http://x\",\"601234567\")",
    "'; DROP TABLE dnc_entries; --",
    "601234567' OR '1'='1",
];

/// Bodies every JSON endpoint must refuse, whatever it expects. Injection strings are
/// left out where `field` is free text (a deletion's reason): stored verbatim as data,
/// they are harmless there.
fn hostile_bodies(field: &str, free_text: bool) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"42".to_vec(),
        b"\"601234567\"".to_vec(),
        b"{\"zzz\": 1}".to_vec(),
        b"\xff\xfe\x00{".to_vec(),
        [b"{\"".as_slice(), field.as_bytes(), b"\": \"\xff\xfe\"}"].concat(),
        [b"{\"".as_slice(), field.as_bytes(), b"\": \"60\xc3\x28\"}"].concat(),
        format!("{{\"{field}\": \"601\\u0000234567\"}}").into_bytes(),
        format!("{{\"{field}\": \"601\0234567\"}}").into_bytes(),
        format!("{{\"{field}\": {{\"$ne\": null}}}}").into_bytes(),
        format!("{{\"{field}\": 601234567e999}}").into_bytes(),
        format!("{{\"{field}\": \"{}\"}}", "9".repeat(900_000)).into_bytes(),
        "[".repeat(10_000).into_bytes(),
    ];
    if !free_text {
        for s in INJECTIONS {
            bodies.push(json!({ field: s }).to_string().into_bytes());
        }
    }
    bodies
}

#[tokio::test]
async fn hostile_json_gets_a_4xx_with_an_error_body_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let counts = || async {
        let mut out = vec![];
        for table in ["dnc_entries", "api_keys", "audit_log", "imports"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&app.state.db)
                .await
                .unwrap();
            out.push(n);
        }
        out
    };
    let before = counts().await;

    let endpoints = [
        (Method::POST, "/v1/check", "numbers", false),
        (Method::POST, "/v1/dnc", "number", false),
        (Method::DELETE, "/v1/dnc/1", "reason", true),
        (Method::POST, "/v1/keys", "name", false),
    ];
    let mut tried = 0;
    for (method, uri, field, free_text) in endpoints {
        for body in hostile_bodies(field, free_text) {
            let req = Request::builder()
                .method(method.clone())
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.clone()))
                .unwrap();
            let r = app.send(req).await;
            let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).to_string();
            assert!(
                r.status.is_client_error(),
                "{method} {uri} {shown}: {} {}",
                r.status,
                r.body
            );
            assert!(
                r.body["error"]["code"].is_string() && r.body["error"]["message"].is_string(),
                "{method} {uri} {shown}: {}",
                r.body
            );
            tried += 1;
        }
        // Bigger than the JSON limit: 413 before parsing.
        let big = format!("{{\"{field}\": \"{}\"}}", "1".repeat(2 << 20));
        let r = app.call(method.clone(), uri, Some(ADMIN_KEY), None).await;
        assert!(r.status.is_client_error());
        let req = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(big))
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {uri}");
        assert_eq!(r.body["error"]["code"], "body_too_large");
        tried += 1;
    }

    // Injection strings where a number, role or name is expected.
    for s in INJECTIONS {
        for (uri, body) in [
            ("/v1/dnc", json!({"number": s, "reason": s})),
            (
                "/v1/dnc",
                json!({"number": "601234567", "client": s, "expires_at": s}),
            ),
            ("/v1/keys", json!({"name": "crm", "role": s})),
        ] {
            let r = app.post(uri, ADMIN_KEY, body.clone()).await;
            assert!(r.status.is_client_error(), "{uri} {body}: {}", r.status);
            assert!(r.body["error"]["code"].is_string());
            tried += 1;
        }
        // In a batch, a bad item is reported in place (the contract); nothing is stored.
        let r = app
            .post("/v1/check", ADMIN_KEY, json!({"numbers": [s]}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body["results"][0]["error"].is_object(), "{}", r.body);
    }

    // Hostile query strings.
    let huge = "6".repeat(50_000);
    let queries = [
        "/v1/check?number=%00".to_string(),
        "/v1/check?number=601%00234567".to_string(),
        "/v1/check?number=%FF%FE".to_string(),
        "/v1/check?number=%3Dcmd%7C%27%20%2FC%20calc%27%21A0".to_string(),
        format!("/v1/check?number={huge}"),
        "/v1/check".to_string(),
        "/v1/dnc?number=%27%3B%20DROP%20TABLE%20dnc_entries%3B%20--".to_string(),
        "/v1/dnc?number=%FF".to_string(),
        "/v1/dnc/-1".to_string(),
        "/v1/dnc/99999999999999999999999".to_string(),
        "/v1/audit?number=%3Dcmd%7C".to_string(),
        "/v1/audit?limit=-1".to_string(),
        "/v1/audit?before_id=abc".to_string(),
        "/v1/registries/..%2F..%2Fetc".to_string(),
        "/v1/registries/robinson/imports/abc".to_string(),
        format!("/v1/registries/{}", "r".repeat(10_000)),
    ];
    for uri in &queries {
        let r = app.get(uri, ADMIN_KEY).await;
        let shown = &uri[..uri.len().min(80)];
        assert!(
            r.status.is_client_error(),
            "{shown}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body["error"]["code"].is_string(), "{shown}: {}", r.body);
        tried += 1;
    }

    // A registry export carrying formulas: those lines are rejects with line numbers.
    let mut csv = String::from("telefon\n");
    for i in 0..300 {
        csv.push_str(&format!("{}\n", 600_000_000 + i));
    }
    csv.push_str("=cmd|' /C calc'!A0\n");
    let r = app.upload("robinson", "", csv.into_bytes()).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["rejects"][0]["line"], 302, "{}", r.body);

    let mut after = counts().await;
    after[3] -= 1; // the one import above
    after[2] -= 2; // and its two audit events
    assert_eq!(
        before, after,
        "dnc_entries, api_keys, audit_log, imports unchanged"
    );
    assert!(!app.allowed("601234567").await);
    println!("{tried} hostile requests refused with a 4xx, 0 changes");
}

/// Serves `app` on a real socket with short limits; returns the address.
async fn serve_with_short_limits(app: &TestApp) -> std::net::SocketAddr {
    let mut settings = (*app.state.settings).clone();
    settings.request_timeout = Duration::from_millis(300);
    let state = app.state.clone().with_settings(settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    tokio::spawn(tarcza::http::serve_with(
        listener,
        tarcza::http::router(state),
        std::future::pending(),
        options,
    ));
    addr
}

#[tokio::test]
async fn slow_clients_and_oversized_heads_are_cut_off() {
    let app = TestApp::spawn().await;
    let addr = serve_with_short_limits(&app).await;

    // Slow loris: headers that never end. The connection is closed.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest))
        .await
        .expect("the server hangs up on a slow head")
        .ok();
    assert!(started.elapsed() < Duration::from_secs(3));

    // A body that trickles: 408 with our error body, nothing stored.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/dnc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"number\": "
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut raw))
        .await
        .expect("the server answers a slow body")
        .ok();
    let r = parse_reply(&raw).unwrap();
    assert_eq!(r.status, 408, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "request_timeout");

    // A head bigger than the limit (64 KiB): refused before routing.
    let long = format!("/v1/check?number={}", "6".repeat(100_000));
    let r = request(addr, "GET", &long, Some(ADMIN_KEY), None).await;
    match r {
        Ok(r) => assert!((400..500).contains(&r.status), "{}", r.status),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::TimedOut),
    }
    let mut headers = String::new();
    for i in 0..2000 {
        headers.push_str(&format!("X-Filler-{i}: {}\r\n", "a".repeat(40)));
    }
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = sock
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes())
        .await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut raw)).await;
    if !raw.is_empty() {
        let r = parse_reply(&raw).unwrap();
        assert!((400..500).contains(&r.status), "{}", r.status);
    }

    // An upload that stalls fails (its import is marked failed) and frees the registry.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/registries/robinson/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\
         Content-Type: text/csv\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n601234567\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut raw))
        .await
        .expect("the server gives up on a stalled upload")
        .ok();
    let r = parse_reply(&raw).unwrap();
    assert_eq!(r.body["status"], "failed", "{:?}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("sent nothing"),
        "{:?}",
        r.body
    );
    let r = app.upload("robinson", "", b"501234567\n".to_vec()).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);

    // Still serving the well-behaved.
    let r = request(
        addr,
        "GET",
        "/v1/check?number=601234567",
        Some(ADMIN_KEY),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
