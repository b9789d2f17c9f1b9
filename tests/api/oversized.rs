//! Requests too big to take, on a real socket: the client still reads our answer.

use std::time::Duration;

use tarcza::http::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{parse_reply, Reply};

async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tarcza::http::serve_with(
        listener,
        tarcza::http::router(app.state.clone()),
        std::future::pending(),
        ServeOptions::default(),
    ));
    addr
}

/// Writes all of `request` before reading anything, as Python's urllib does, then reads
/// the answer to the end.
async fn write_all_then_read(addr: std::net::SocketAddr, request: &[u8]) -> Reply {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let exchange = async {
        sock.write_all(request).await?;
        let mut raw = Vec::new();
        sock.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .expect("the server answers within a minute")
        .expect("the whole request is written and the answer read (no broken pipe)");
    parse_reply(&raw).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_writes_a_64_mb_body_before_reading_gets_the_413() {
    let app = TestApp::spawn().await;
    let addr = serve(&app).await;
    let body = format!("{{\"number\": \"{}\"}}", "6".repeat(64 << 20));
    let mut request = format!(
        "POST /v1/dnc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());

    let r = write_all_then_read(addr, &request).await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "body_too_large", "{:?}", r.body);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_or_malformed_head_gets_our_json_error_body() {
    let app = TestApp::spawn().await;
    let addr = serve(&app).await;

    // 2000 headers, ~110 KB: over the 64 KiB head limit.
    let mut headers = String::new();
    for i in 0..2000 {
        headers.push_str(&format!("X-Filler-{i}: {}\r\n", "a".repeat(40)));
    }
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    let r = write_all_then_read(addr, request.as_bytes()).await;
    assert_eq!(r.status, 431);
    assert_eq!(
        r.body["error"]["code"], "request_head_too_large",
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("65536 bytes"),
        "{:?}",
        r.body
    );

    // A query string (phone numbers, say) that makes the head too large.
    let request = format!(
        "GET /v1/check?number={} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\r\n",
        "6".repeat(100_000)
    );
    let r = write_all_then_read(addr, request.as_bytes()).await;
    assert!([414, 431].contains(&r.status), "{}", r.status);
    assert!(r.body["error"]["code"].is_string(), "{:?}", r.body);

    // Not HTTP at all.
    let r = write_all_then_read(addr, b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "malformed_request", "{:?}", r.body);

    // The server still answers the well-behaved.
    let r = write_all_then_read(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
}
