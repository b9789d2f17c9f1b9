//! `tarcza import` and `tarcza check` driven as a person or a script would: the real
//! binary, against a real `tarcza serve`, with standard error not a terminal (so plain
//! progress lines), judged by their output and exit status.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{binary, csv_numbers, free_port, Tarcza};

/// Runs `tarcza ARGS…` against `url` with `key`, `stdin` as its input.
fn tarcza(url: &str, key: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TARCZA_URL", url)
        .env("TARCZA_KEY", key)
        .env("TARCZA_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the tarcza binary");
    // Fed from a thread while the output is read: a long input answered as it is read
    // would otherwise fill both pipes.
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The command may stop reading early (a failure): that is its answer, not ours.
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().expect("tarcza ran");
    feeder.join().unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A CSV file of `count` numbers from 600 000 000 + `start` under a header, written to a
/// temporary directory that lives as long as the returned guard.
fn registry_file(count: u64, start: u64, extra: &[u8]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("robinson.csv");
    let mut data = b"numer\n".to_vec();
    data.extend_from_slice(&csv_numbers(count, start));
    data.extend_from_slice(extra);
    std::fs::write(&path, data).unwrap();
    (dir, path.to_string_lossy().into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_streams_a_file_to_a_running_server_and_says_how_it_went() {
    let app = TestApp::spawn().await;
    let t = Tarcza::start(&app.db_url).await;
    let url = format!("http://{}", t.addr);
    let (_dir, file) = registry_file(50_000, 0, b"not a number\n");

    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["import", &file, "--registry", "robinson"],
        b"",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("import "), "{stdout}");
    assert!(stdout.contains("into robinson: succeeded"), "{stdout}");
    assert!(
        stdout.contains("50 001 read: 50 000 accepted, 1 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("line 50002: invalid_character"), "{stdout}");
    // Not a terminal: plain lines, no bar drawing.
    assert!(stderr.contains("upload: "), "{stderr}");
    // Then that all was sent (a line of its own, or with the server still finishing).
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!(size, 500_019);
    assert!(stderr.contains("upload: all 488.3 KiB sent"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes on a pipe: {stderr:?}"
    );
    assert!(!t.allowed("600000001").await);

    // --json: the record itself, for scripts.
    let (_dir, file) = registry_file(50_000, 0, b"");
    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["import", &file, "--registry", "robinson", "--json"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let record: Value = serde_json::from_slice(&out.stdout).expect("the record as JSON");
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["registry"], "robinson");
    assert_eq!(record["rows_accepted"], 50_000);
    assert_eq!(record["bytes"], std::fs::metadata(&file).unwrap().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_import_exits_1_and_says_how_to_force_it() {
    let app = TestApp::spawn().await;
    let t = Tarcza::start(&app.db_url).await;
    let url = format!("http://{}", t.addr);
    let (_dir, full) = registry_file(10_000, 0, b"");
    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["import", &full, "--registry", "robinson"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Half the registry: a truncated export must not unblock people.
    let (_dir, half) = registry_file(5_000, 0, b"");
    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["import", &half, "--registry", "robinson"],
        b"",
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("robinson: refused"), "{stdout}");
    assert!(stdout.contains("max_shrink"), "{stdout}");
    assert!(stdout.contains("--force"), "{stdout}");
    assert!(
        !t.allowed("600009999").await,
        "the refused import changed nothing"
    );

    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["import", &half, "--registry", "robinson", "--force"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(t.allowed("600009999").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_exit_codes_tell_a_refused_request_from_an_unreachable_server() {
    let app = TestApp::spawn().await;
    let t = Tarcza::start(&app.db_url).await;
    let url = format!("http://{}", t.addr);
    let (_dir, file) = registry_file(100, 0, b"");

    let cases: [(&str, &str, &[&str], i32, &str); 4] = [
        (&url, "tz_not_a_key_at_all_123", &[], 3, "401 unauthorized"),
        (
            &url,
            ADMIN_KEY,
            &["--registry", "nowhere"],
            3,
            "404 unknown_registry",
        ),
        (
            &url,
            ADMIN_KEY,
            &["--mode", "sideways"],
            3,
            "422 invalid_mode",
        ),
        (
            &format!("http://{}", free_port().await),
            ADMIN_KEY,
            &[],
            4,
            "error sending request",
        ),
    ];
    for (url, key, extra, code, said) in cases {
        let mut args = vec!["import", file.as_str()];
        if !extra.contains(&"--registry") {
            args.extend(["--registry", "robinson"]);
        }
        args.extend_from_slice(extra);
        let out = tarcza(url, key, &args, b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    let missing = tarcza(
        &url,
        ADMIN_KEY,
        &["import", "/no/such/file.csv", "--registry", "robinson"],
        b"",
    );
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("/no/such/file.csv"));
    let list = app.get("/v1/registries/robinson/imports", ADMIN_KEY).await;
    assert_eq!(
        list.body["imports"],
        serde_json::json!([]),
        "nothing was imported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_each_verdict_and_exits_0_only_when_every_number_may_be_called() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let t = Tarcza::start(&app.db_url).await;
    let url = format!("http://{}", t.addr);

    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["check", "501234567", "+48 501 234 568"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "501234567\tallowed\t+48501234567\n+48 501 234 568\tallowed\t+48501234568\n"
    );

    // `-` reads standard input, one number a line, in the order given.
    let out = tarcza(
        &url,
        ADMIN_KEY,
        &["check", "501234567", "-", "--client", "acme"],
        b"601 234 567\n\nnot a number\n",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("501234567\tallowed"), "{stdout}");
    assert!(
        lines[1].starts_with("601 234 567\tblocked\t+48601234567\tdo-not-call entry"),
        "{stdout}"
    );
    assert!(lines[1].contains("customer asked"), "{stdout}");
    assert!(lines[2].starts_with("not a number\tinvalid\t"), "{stdout}");

    let out = tarcza(&url, ADMIN_KEY, &["check", "601234567", "--json"], b"");
    assert_eq!(out.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["allowed"], false);
    assert_eq!(result["reasons"][0]["source"], "dnc");

    let out = tarcza(
        &url,
        "tz_not_a_key_at_all_123",
        &["check", "501234567"],
        b"",
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let nowhere = format!("http://{}", free_port().await);
    let out = tarcza(&nowhere, ADMIN_KEY, &["check", "501234567"], b"");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_more_than_one_batch_from_standard_input() {
    let app = TestApp::spawn().await;
    app.block("600012345").await;
    let t = Tarcza::start(&app.db_url).await;
    let url = format!("http://{}", t.addr);
    let numbers = csv_numbers(25_000, 0);
    let out = tarcza(&url, ADMIN_KEY, &["check", "-"], &numbers);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 25_000);
    assert!(
        lines[12_345].starts_with("600012345\tblocked"),
        "{}",
        lines[12_345]
    );
    assert!(
        lines[24_999].starts_with("600024999\tallowed"),
        "{}",
        lines[24_999]
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("\tblocked\t")).count(),
        1
    );
}
