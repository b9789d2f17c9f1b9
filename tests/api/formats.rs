//! Uploads in the other formats (hashed, zip, windows-1250) and the declared-file checks.

use axum::http::StatusCode;

use crate::helpers::{gzip, sha256_hex, TestApp, ADMIN_KEY};

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_hashed_list_blocks_exactly_the_numbers_it_hashes() {
    let app = TestApp::spawn().await;
    // Vectors computed with sha256sum: "48512345678" under e164_digits.
    let file = "sha256\n\
                10056dd3f796b0c08a6000347953e20ec0cd521beb1261246cc231f35bd12718\n\
                \n\
                not-a-hash\n"
        .to_string()
        + &sha256_hex("48601234567").to_uppercase()
        + "\n";
    let r = app
        .upload(
            "robinson",
            "format=sha256&max_reject_rate=0.5",
            file.into_bytes(),
        )
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["format"], "sha256");
    assert_eq!(r.body["hash_scheme"], "e164_digits");
    assert_eq!(r.body["rows_rejected"], 1);
    assert_eq!(r.body["rejects"][0]["line"], 4);
    assert_eq!(r.body["rejects"][0]["reason"], "invalid_hash");
    assert!(!app.allowed("+48 512 345 678").await);
    assert!(!app.allowed("0048512345678").await);
    assert!(!app.allowed("601-234-567").await);
    assert!(app.allowed("512345679").await);
    let reg = app.get("/v1/registries/robinson", ADMIN_KEY).await.body;
    assert_eq!(reg["hash_scheme"], "e164_digits");

    // Under the national scheme the same list means other numbers.
    let national = format!("{}\n", sha256_hex("512345678"));
    let r = app
        .upload(
            "robinson",
            "format=sha256&hash_scheme=national&force=true",
            national.into_bytes(),
        )
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert!(!app.allowed("512345678").await);
    assert!(app.allowed("601234567").await);
}

#[tokio::test]
async fn hash_keys_above_the_signed_range_survive_a_reload() {
    let app = TestApp::spawn().await;
    // SHA-256("48601234567") starts with 0xda…: above i64::MAX as a big-endian u64.
    let file = format!(
        "{}\n{}\n",
        sha256_hex("48601234567"),
        sha256_hex("48512345678")
    );
    let r = app
        .upload("robinson", "format=sha256", file.into_bytes())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let replica = app.replica().await;
    assert!(!replica.allowed("601234567").await);
    assert!(!replica.allowed("512345678").await);
    assert!(replica.allowed("501234567").await);
}

#[tokio::test]
async fn a_zip_holding_one_file_is_read_and_one_holding_two_is_refused() {
    let app = TestApp::spawn().await;
    let csv = b"phone\n601000001\n601000002\n";
    let r = app
        .upload("robinson", "", zip_of(&[("robinson.csv", csv)]))
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 2);
    assert!(!app.allowed("601000002").await);

    // A gzip inside a zip, as some tools make them.
    let r = app
        .upload(
            "robinson",
            "",
            zip_of(&[(
                "robinson.csv.gz",
                &gzip(b"601000001\n601000002\n601000003\n"),
            )]),
        )
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["entries_after"], 3);

    let r = app
        .upload("robinson", "", zip_of(&[("a.csv", csv), ("b.csv", csv)]))
        .await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("2 files"));

    let mut truncated = zip_of(&[("robinson.csv", b"601000009\n")]);
    truncated.truncate(truncated.len() - 30);
    let r = app.upload("robinson", "", truncated).await;
    assert_eq!(r.body["status"], "failed", "{}", r.body);
    assert!(app.allowed("601000009").await);
    assert!(!app.allowed("601000003").await);
}

#[tokio::test]
async fn a_windows_1250_export_is_read_when_its_encoding_is_named() {
    let app = TestApp::spawn().await;
    let (bytes, _, _) = encoding_rs::WINDOWS_1250
        .encode("Imię;Telefon\nŁucja Ćwik;601 000 001\nŻaneta Śliwa;601 000 002\n");
    let r = app
        .upload("robinson", "encoding=windows-1250", bytes.to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert_eq!(r.body["rows_rejected"], 0);
    assert_eq!(r.body["encoding"], "windows-1250");
    assert!(!app.allowed("601000002").await);

    // The same bytes read as UTF-8: every row is rejected (invalid_utf8), so refused.
    let r = app.upload("robinson", "", bytes.to_vec()).await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);

    let r = app
        .upload("robinson", "encoding=ebcdic", bytes.to_vec())
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "unsupported_encoding");
}

#[tokio::test]
async fn the_same_file_uploaded_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let delta = b"numer;op\n601000001;A\n601000002;A\n".to_vec();
    let first = app.upload("robinson", "mode=delta", delta.clone()).await;
    assert_eq!(first.body["status"], "succeeded", "{}", first.body);
    assert_eq!(first.body["unchanged"], false);
    let version = app.check("601000001").await.body["snapshot_version"].clone();

    let second = app.upload("robinson", "mode=delta", delta).await;
    assert_eq!(second.body["status"], "succeeded", "{}", second.body);
    assert_eq!(second.body["unchanged"], true);
    assert_eq!(second.body["entries_after"], 2);
    assert_eq!(second.body["checksum"], first.body["checksum"]);
    let after = app.check("601000001").await.body;
    assert_eq!(
        after["snapshot_version"], version,
        "no data version was spent"
    );
    let reg = app.get("/v1/registries/robinson", ADMIN_KEY).await.body;
    assert_eq!(reg["last_import"]["id"], first.body["id"]);
}

#[tokio::test]
async fn a_declared_checksum_or_row_count_that_does_not_match_refuses_the_import() {
    let app = TestApp::spawn().await;
    let file = b"phone\n601000001\n601000002\n".to_vec();
    let right = sha256_hex(std::str::from_utf8(&file).unwrap());
    let wrong = sha256_hex("something else");

    let r = app
        .upload("robinson", &format!("sha256={wrong}"), file.clone())
        .await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains(&right));
    let r = app
        .upload("robinson", "expected_rows=3", file.clone())
        .await;
    assert_eq!(r.body["status"], "refused", "{}", r.body);
    assert!(app.allowed("601000001").await);

    let r = app
        .upload(
            "robinson",
            &format!("sha256={}&expected_rows=2", right.to_uppercase()),
            file,
        )
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert!(!app.allowed("601000001").await);
}

#[tokio::test]
async fn the_same_bytes_read_another_way_are_imported_again() {
    let app = TestApp::spawn().await;
    let mut text = String::from("Nazwisko;Telefon\n");
    for i in 0..8 {
        text.push_str(&format!("Jan Nowak;60100000{i}\n"));
    }
    text.push_str("Łukasz Żółć;601000008\nŻaneta Ćwik;601000009\n");
    let (bytes, _, _) = encoding_rs::WINDOWS_1250.encode(&text);
    let bytes = bytes.to_vec();

    // Read as UTF-8, the two Polish rows are rejected; the rest is live.
    let first = app
        .upload("robinson", "max_reject_rate=0.5", bytes.clone())
        .await;
    assert_eq!(first.body["status"], "succeeded", "{}", first.body);
    assert_eq!(first.body["rows_rejected"], 2);
    assert!(app.allowed("601000009").await);

    // The same bytes in their encoding: read again, all ten rows live.
    let second = app
        .upload("robinson", "encoding=windows-1250", bytes.clone())
        .await;
    assert_eq!(second.body["status"], "succeeded", "{}", second.body);
    assert_eq!(second.body["unchanged"], false, "{}", second.body);
    assert_eq!(second.body["rows_accepted"], 10);
    assert_eq!(second.body["entries_after"], 10);
    assert!(!app.allowed("601000009").await);
    assert!(!app.allowed("601000008").await);

    // Same bytes, same reading (an alias of the encoding is the same reading): unchanged.
    let third = app
        .upload("robinson", "encoding=cp1250", bytes.clone())
        .await;
    assert_eq!(third.body["unchanged"], true, "{}", third.body);
    assert_eq!(third.body["rows_accepted"], 10);

    // The same bytes as a delta are another import, not the snapshot again.
    let delta = app
        .upload("robinson", "mode=delta&encoding=windows-1250", bytes)
        .await;
    assert_eq!(delta.body["status"], "succeeded", "{}", delta.body);
    assert_eq!(delta.body["unchanged"], false, "{}", delta.body);
    assert_eq!(delta.body["entries_after"], 10);

    // UTF-8 named or not is one reading.
    let utf8 = b"numer\n601000001\n601000002\n".to_vec();
    let r = app.upload("robinson", "force=true", utf8.clone()).await;
    assert_eq!(r.body["unchanged"], false, "{}", r.body);
    let r = app.upload("robinson", "encoding=utf-8", utf8).await;
    assert_eq!(r.body["unchanged"], true, "{}", r.body);
}
