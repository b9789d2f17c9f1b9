//! Registry sources tarcza does not control: a broken or tampered delta feed cannot
//! empty a registry.

use std::time::Duration;

use crate::sync::{app_with, numbers, sync, FileServer, DAY};

#[tokio::test]
async fn a_delta_feed_cannot_empty_a_registry() {
    let server = FileServer::start().await;
    let app = app_with(&[
        ("ROBINSON_SOURCE", server.url("delta.csv")),
        ("ROBINSON_MODE", "delta".into()),
    ])
    .await;
    let mut adds = String::from("numer;op\n");
    let mut removes = adds.clone();
    for n in numbers(100, 0) {
        adds.push_str(&format!("{n};A\n"));
        removes.push_str(&format!("{n};D\n"));
    }
    server.publish("delta.csv", adds.as_bytes(), DAY);
    let done = sync(&app, "robinson").await;
    assert_eq!(done["entries_after"], 100, "{done}");
    server.publish("delta.csv", removes.as_bytes(), Duration::ZERO);
    let refused = sync(&app, "robinson").await;
    assert_eq!(refused["status"], "refused", "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("max_shrink"));
    assert!(!app.allowed("600000050").await);
}
