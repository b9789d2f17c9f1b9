//! Hostile files: decompression bombs, nested archives, zip directories listing more than
//! one file needs, and bodies that arrive a byte at a time. A bad file is `refused` with a
//! reason, the registry is free for the next import, and its data keeps serving.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request};
use serde_json::Value;
use tarcza::config::Config;

use crate::helpers::{csv, gzip, numbers, TestApp, ADMIN_KEY};

fn numbers_csv(count: u64, start: u64) -> Vec<u8> {
    csv(&numbers(count, start))
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        if name.ends_with('/') {
            w.add_directory(*name, options).unwrap();
        } else {
            w.start_file(*name, options).unwrap();
            w.write_all(bytes).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn gzip_best(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// An app whose registry holds 600000000…600000099.
async fn loaded(configure: impl FnOnce(&mut Config)) -> TestApp {
    let app = TestApp::spawn_with(configure).await;
    let r = app.upload("robinson", "", numbers_csv(100, 0)).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    app
}

/// Uploads `bytes`, expects `refused` with `reason` in its error, and checks that the
/// old data still serves and the registry takes the next import at once.
async fn refused(app: &TestApp, bytes: Vec<u8>, reason: &str) -> Value {
    let r = app.upload("robinson", "", bytes).await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    let error = r.body["error"].as_str().unwrap();
    assert!(error.contains(reason), "{error}");
    assert!(
        !app.allowed("600000042").await,
        "the old data keeps serving"
    );
    let next = app.upload("robinson", "", numbers_csv(101, 0)).await;
    assert_eq!(
        next.body["status"], "succeeded",
        "the lock is free: {}",
        next.body
    );
    r.body
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_by_its_ratio() {
    let app = loaded(|_| {}).await;
    // 64 MiB of blank lines in a gzip in a zip: about 70 KB sent, 1000 times over.
    let blank = vec![b' '; 4095]
        .into_iter()
        .chain([b'\n'])
        .collect::<Vec<u8>>();
    let text = blank.repeat(16 << 10);
    let bomb = zip_of(&[("lista.csv.gz", &gzip_best(&text))]);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let r = refused(&app, bomb, "expands more than 1000 times").await;
    assert_eq!(r["rows_total"], 0);
    // A small file of long runs is fine: under the first 16 MiB the ratio is not asked.
    let mut small = b"numer\n601000001\n".to_vec();
    small.extend(vec![b'\n'; 1 << 20]);
    let r = app
        .upload("robinson", "force=true", gzip_best(&small))
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
}

#[tokio::test]
async fn text_beyond_the_decompressed_limit_is_refused() {
    let app = loaded(|c| c.max_decompressed_bytes = 64 << 10).await;
    // About 110 KB of numbers, compressed a few times over: not a bomb, only too big.
    let file = gzip(&numbers_csv(10_000, 0));
    refused(&app, file, "TARCZA_MAX_DECOMPRESSED_BYTES").await;
}

#[tokio::test]
async fn blank_lines_count_towards_the_line_limit() {
    let app = loaded(|c| c.max_import_lines = 200).await;
    let mut file = b"numer\n601000001\n".to_vec();
    file.extend(vec![b'\n'; 300]);
    let r = refused(&app, file, "more than 200 lines").await;
    assert!(r["error"]
        .as_str()
        .unwrap()
        .contains("TARCZA_MAX_IMPORT_LINES"));
}

#[tokio::test]
async fn archives_nested_deeper_than_one_zip_and_one_gzip_are_refused() {
    let app = loaded(|_| {}).await;
    let csv = numbers_csv(100, 0);
    let zip_in_zip = zip_of(&[("inner.zip", &zip_of(&[("lista.csv", &csv)]))]);
    refused(&app, zip_in_zip, "a zip archive inside a zip archive").await;
    refused(&app, gzip(&gzip(&csv)), "an archive inside a gzip file").await;
    let zip_in_gzip = gzip(&zip_of(&[("lista.csv", &csv)]));
    refused(&app, zip_in_gzip, "an archive inside a gzip file").await;
}

#[tokio::test]
async fn a_zip_listing_more_entries_than_one_file_needs_is_refused() {
    let app = loaded(|_| {}).await;
    // One data file among many folders: each entry costs memory before any is read.
    let mut entries: Vec<(String, Vec<u8>)> =
        (0..40).map(|i| (format!("d{i}/"), Vec::new())).collect();
    entries.push(("lista.csv".into(), numbers_csv(100, 0)));
    let entries: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    refused(&app, zip_of(&entries), "lists 41 entries").await;

    // An end record that claims 60 000 entries is refused from the count alone.
    let mut claims = zip_of(&[("lista.csv", &numbers_csv(100, 0))]);
    let eocd = claims.len() - 22;
    assert_eq!(&claims[eocd..eocd + 4], b"PK\x05\x06");
    claims[eocd + 8..eocd + 12].copy_from_slice(&[0x60, 0xea, 0x60, 0xea]);
    refused(&app, claims, "lists 60000 entries").await;

    // A folder around the file and macOS resource forks are fine.
    let usual = zip_of(&[
        ("lista/", b""),
        ("lista/lista.csv", &numbers_csv(100, 0)),
        ("__MACOSX/", b""),
        ("__MACOSX/lista/._lista.csv", b"\x00\x05\x16\x07"),
    ]);
    let r = app.upload("robinson", "", usual).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
}

/// Uploads `bytes` as a body whose first chunk holds only `first` bytes.
async fn upload_in_chunks(app: &TestApp, bytes: Vec<u8>, first: usize) -> Value {
    let rest = Bytes::from(bytes[first..].to_vec());
    let head = Bytes::from(bytes[..first].to_vec());
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(head), Ok(rest)]);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/registries/robinson/imports")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"))
        .body(Body::from_stream(chunks))
        .unwrap();
    app.send(req).await.body
}

#[tokio::test]
async fn compression_is_recognised_when_the_first_chunk_is_one_byte() {
    let app = TestApp::spawn().await;
    let r = upload_in_chunks(&app, gzip(&numbers_csv(10, 0)), 1).await;
    assert_eq!(r["status"], "succeeded", "{r}");
    assert_eq!(r["entries_after"], 10);
    let r = upload_in_chunks(&app, zip_of(&[("l.csv", &numbers_csv(11, 0))]), 1).await;
    assert_eq!(r["status"], "succeeded", "{r}");
    assert_eq!(r["entries_after"], 11);
    let zipped_gzip = zip_of(&[("l.csv.gz", &gzip(&numbers_csv(12, 0)))]);
    let r = upload_in_chunks(&app, zipped_gzip, 3).await;
    assert_eq!(r["status"], "succeeded", "{r}");
    assert_eq!(r["entries_after"], 12);
    assert!(!app.allowed("600000011").await);
}
