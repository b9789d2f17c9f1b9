//! Registry sources tarcza does not control: changed settings read an unchanged source
//! again, and a broken or tampered delta feed cannot empty a registry.

use std::time::Duration;

use tarcza::app::AppState;
use tarcza::config::registries::from_vars;
use tarcza::config::Config;

use crate::helpers::TestApp;
use crate::sync::{app_with, numbers, sync, write_file, FileServer, DAY};

/// An app whose registries are configured by `vars`, with `configure` applied.
async fn app_configured(vars: &[(&str, String)], configure: impl FnOnce(&mut Config)) -> TestApp {
    let registries = from_vars(
        vars.iter()
            .map(|(k, v)| (format!("TARCZA_REGISTRY_{k}"), v.clone())),
    )
    .unwrap();
    TestApp::spawn_with(move |c: &mut Config| {
        c.registries = registries;
        c.sync_retry_delay = Duration::from_millis(10);
        configure(c);
    })
    .await
}

/// Syncs a windows-1250 file first without its encoding, then (another process on the
/// same database, configured anew) with it: the source has not changed, the reading has.
async fn changed_settings_read_the_source_again(source: String, server: Option<&FileServer>) {
    let plain = [("ROBINSON_SOURCE", source.clone())];
    let first = app_configured(&plain, |c| c.max_reject_rate = 0.5).await;
    let done = sync(&first, "robinson").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_rejected"], 2, "{done}");
    assert!(first.allowed("601000009").await);
    let again = sync(&first, "robinson").await;
    assert_eq!(again["unchanged"], true, "{again}");
    let hits = server.map(|s| s.hits());

    let mut settings = (*first.state.settings).clone();
    settings.registries = from_vars([
        ("TARCZA_REGISTRY_ROBINSON_SOURCE".to_string(), source),
        (
            "TARCZA_REGISTRY_ROBINSON_ENCODING".to_string(),
            "windows-1250".to_string(),
        ),
    ])
    .unwrap();
    let pool = tarcza::db::connect(&first.db_url).await.unwrap();
    let state = AppState::new(pool, settings);
    state.index.refresh(&state.db).await.unwrap();
    let second = TestApp::with_state(state, first.db_url.clone());
    let reread = sync(&second, "robinson").await;
    assert_eq!(reread["status"], "succeeded", "{reread}");
    assert_eq!(reread["unchanged"], false, "{reread}");
    assert_eq!(reread["rows_rejected"], 0, "{reread}");
    assert!(!second.allowed("601000009").await);
    if let (Some(server), Some(hits)) = (server, hits) {
        assert_eq!(server.hits(), hits + 1);
    }
    // Read the new way once, the source's "not modified" counts again.
    let again = sync(&second, "robinson").await;
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(again["rows_total"], 0, "{again}");
}

fn cp1250_export() -> Vec<u8> {
    let mut text = String::from("Nazwisko;Telefon\n");
    for i in 0..8 {
        text.push_str(&format!("Jan Nowak;60100000{i}\n"));
    }
    text.push_str("Łukasz Żółć;601000008\nŻaneta Ćwik;601000009\n");
    encoding_rs::WINDOWS_1250.encode(&text).0.to_vec()
}

#[tokio::test]
async fn a_sync_whose_settings_changed_reads_a_not_modified_source_again() {
    let server = FileServer::start().await;
    server.publish("export.csv", &cp1250_export(), DAY);
    changed_settings_read_the_source_again(server.url("export.csv"), Some(&server)).await;
}

#[tokio::test]
async fn a_sync_whose_settings_changed_reads_an_unchanged_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    write_file(&path, &cp1250_export(), DAY);
    changed_settings_read_the_source_again(path.display().to_string(), None).await;
}

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
