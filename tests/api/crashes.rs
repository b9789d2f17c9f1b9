//! `kill -9` of the real binary in the middle of a large import, with DNC writes going on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{csv_numbers, time_until, Tarcza};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_import_keeps_the_old_data_and_loses_no_acknowledged_entry() {
    let app = TestApp::spawn().await;
    let mut t = Tarcza::start(&app.db_url).await;
    let r = t.upload("", &csv_numbers(1000, 0)).await;
    assert_eq!(r.body["status"], "succeeded", "{:?}", r.body);

    // A large snapshot (2M rows, ~20 MB), of which the first half is sent before the kill.
    let big = csv_numbers(2_000_000, 10_000);
    let mut sock = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    let head = format!(
        "POST /v1/registries/robinson/imports?mode=snapshot HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&big[..big.len() / 2]).await.unwrap();

    // Agents keep adding entries while the process dies; 201 = acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let adder = {
        let acked = acked.clone();
        let addr = t.addr;
        tokio::spawn(async move {
            for i in 0..100_000u64 {
                let number = format!("{}", 700_000_000 + i);
                let body = json!({"number": number, "reason": "asked"}).to_string();
                match crate::net::request(
                    addr,
                    "POST",
                    "/v1/dnc",
                    Some(ADMIN_KEY),
                    Some(("application/json", body.as_bytes())),
                )
                .await
                {
                    Ok(r) if r.status == 201 => acked.lock().unwrap().push(number),
                    Ok(r) => panic!("unexpected answer {} {:?}", r.status, r.body),
                    Err(_) => return, // the process is gone
                }
            }
        })
    };

    // Kill once the import is running and some entries are acknowledged.
    time_until(Duration::from_secs(20), "import running", || async {
        let running: i64 =
            sqlx::query_scalar("SELECT count(*) FROM imports WHERE status = 'running'")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        running == 1 && acked.lock().unwrap().len() >= 20
    })
    .await;
    t.kill();
    adder.await.unwrap();
    drop(sock);
    let acked = acked.lock().unwrap().clone();
    // Postgres ends the dead process's sessions (and their locks) when it sees them close.
    time_until(Duration::from_secs(10), "dead sessions gone", || async {
        let locks: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        locks == 0
    })
    .await;

    let t = Tarcza::start(&app.db_url).await;
    // The previous registry data is intact and answering.
    let r = t
        .call("GET", "/v1/registries/robinson", None)
        .await
        .unwrap();
    assert_eq!(r.body["entries"], 1000, "{:?}", r.body);
    assert!(!t.allowed("600000999").await);
    assert!(t.allowed("600010000").await, "nothing of the killed import");
    // The interrupted import is marked failed.
    let r = t
        .call("GET", "/v1/registries/robinson/imports", None)
        .await
        .unwrap();
    let last = &r.body["imports"][0];
    assert_eq!(last["status"], "failed", "{last}");
    assert!(last["error"].as_str().unwrap().contains("interrupted"));
    // Not one acknowledged entry is lost.
    assert!(!acked.is_empty());
    for number in &acked {
        assert!(!t.allowed(number).await, "acknowledged {number} lost");
    }
    println!(
        "{} acknowledged entries before kill -9, 0 lost",
        acked.len()
    );
    // And a new import succeeds.
    let r = t.upload("", &csv_numbers(1010, 0)).await;
    assert_eq!(r.body["status"], "succeeded", "{:?}", r.body);
    assert!(!t.allowed("600001009").await);
}
