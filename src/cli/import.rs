//! `tarcza import FILE --registry NAME`: streams a registry file to a running tarcza
//! (`POST /v1/registries/{name}/imports`), shows it going (bytes, rate, time left), then
//! follows the server while it finishes (`GET /v1/registries/{name}`, the running
//! import's progress), then prints the import's record.

use std::io::IsTerminal;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde_json::Value;
use tokio_util::io::ReaderStream;

use super::client::{answer, Client, Failure};
use super::Exit;
use crate::config::ImportArgs;

/// How often the display is brought up to date (and the server asked, once all is sent).
const TICK: Duration = Duration::from_millis(500);
/// How often a line is written when standard error is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Runs `tarcza import`; the exit status is described at [`Exit`].
pub async fn import(args: ImportArgs) -> ExitCode {
    match run(&args).await {
        Ok(exit) => exit.into(),
        Err(Problem::Server(failure)) => failure.report().into(),
        Err(Problem::File(why)) => {
            eprintln!("tarcza: {why}");
            ExitCode::from(2)
        }
    }
}

enum Problem {
    /// The file cannot be read (exit 2, like a wrong argument).
    File(String),
    Server(Failure),
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Problem {
        Problem::Server(f)
    }
}

async fn run(args: &ImportArgs) -> Result<Exit, Problem> {
    let client = Client::new(&args.server)?;
    let path = args.file.display().to_string();
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|e| Problem::File(format!("{path}: {e}")))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| Problem::File(format!("{path}: {e}")))?
        .len();
    let mut query = vec![];
    for (name, value) in [
        ("mode", &args.mode),
        ("format", &args.format),
        ("hash_scheme", &args.hash_scheme),
        ("encoding", &args.encoding),
    ] {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    if args.force {
        query.push(("force", "true".to_string()));
    }
    let url = registry_url(&client, &args.registry, Some("imports"), &query);

    let sent = Arc::new(AtomicU64::new(0));
    let counted = sent.clone();
    // Bytes are counted as the HTTP client takes them, a socket buffer ahead of the wire:
    // "done" is said only once the server has answered.
    let body = ReaderStream::with_capacity(file, 64 << 10).inspect_ok(move |chunk| {
        counted.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    });
    let request = client
        .request(Method::POST, url)
        .header(CONTENT_LENGTH, size)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body));
    let mut view = View::new(&path, size, client.base());
    let mut upload = pin!(async { answer(request.send().await).await });
    let mut tick = tokio::time::interval(TICK);
    let record = loop {
        tokio::select! {
            answered = &mut upload => break answered,
            _ = tick.tick() => {
                let done = sent.load(Ordering::Relaxed);
                if done < size {
                    view.uploading(done);
                } else {
                    let registry = registry_url(&client, &args.registry, None, &[]);
                    let state = answer(client.request(Method::GET, registry).send().await).await;
                    view.finishing(state.ok().as_ref().map(|r| &r["running_import"]));
                }
            }
        }
    };
    view.done(record.is_ok());
    let record = record?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&record).unwrap_or_default()
        );
    } else {
        print!("{}", summary(&record));
    }
    Ok(match record["status"].as_str() {
        Some("succeeded") => Exit::Ok,
        _ => Exit::No,
    })
}

/// `{base}v1/registries/{name}[/{tail}]?{query}`, the name encoded as one path segment.
fn registry_url(client: &Client, name: &str, tail: Option<&str>, query: &[(&str, String)]) -> Url {
    let mut url = client.url("v1/registries/", query);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(name);
        if let Some(tail) = tail {
            segments.push(tail);
        }
    }
    url
}

/// What is shown while the import runs: a bar (then a spinner) on a terminal, plain
/// lines every few seconds otherwise (indicatif draws nothing there).
struct View {
    bar: Option<ProgressBar>,
    size: u64,
    last_line: Option<Instant>,
    finishing: bool,
}

impl View {
    fn new(path: &str, size: u64, server: &Url) -> View {
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr_with_hz(10));
            if let Ok(style) = ProgressStyle::with_template(
                "upload [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        if bar.as_ref().is_none_or(ProgressBar::is_hidden) {
            eprintln!("upload: {path} ({}) to {server}", bytes(size));
        }
        View {
            bar: bar.filter(|b| !b.is_hidden()),
            size,
            last_line: None,
            finishing: false,
        }
    }

    fn due(&mut self) -> bool {
        let due = self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY);
        if due {
            self.last_line = Some(Instant::now());
        }
        due
    }

    fn uploading(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        } else if self.due() {
            let share = 100.0 * done as f64 / self.size.max(1) as f64;
            eprintln!(
                "upload: {} of {} sent ({share:.0}%)",
                bytes(done),
                bytes(self.size)
            );
        }
    }

    /// All bytes are sent; `running` is the server's running import (if it said).
    fn finishing(&mut self, running: Option<&Value>) {
        if !self.finishing {
            self.finishing = true;
            match self.bar.take() {
                Some(bar) => {
                    bar.finish_and_clear();
                    let spinner =
                        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
                    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                        spinner.set_style(style);
                    }
                    spinner.set_message("the server is finishing the import");
                    spinner.enable_steady_tick(Duration::from_millis(120));
                    self.bar = Some(spinner);
                }
                None => eprintln!(
                    "upload: all {} sent; the server is finishing the import",
                    bytes(self.size)
                ),
            }
            self.last_line = Some(Instant::now());
        }
        let Some(p) = running.map(|r| &r["progress"]).filter(|p| p.is_object()) else {
            return;
        };
        let line = format!(
            "server {}: {} rows, {} rejected",
            p["phase"].as_str().unwrap_or("working"),
            count(&p["rows_read"]),
            count(&p["rows_rejected"]),
        );
        if let Some(spinner) = &self.bar {
            spinner.set_message(line);
        } else if self.due() {
            eprintln!("server: {line}");
        }
    }

    /// The server has answered (`read`: with the import's record, so it read the file).
    fn done(&mut self, read: bool) {
        match self.bar.take() {
            Some(bar) => bar.finish_and_clear(),
            // A quick import is answered before a line says the upload ended.
            None if read && !self.finishing => {
                eprintln!("upload: all {} sent", bytes(self.size))
            }
            None => {}
        }
    }
}

/// An import's record as a few lines for people.
fn summary(r: &Value) -> String {
    let mut out = String::new();
    let status = r["status"].as_str().unwrap_or("?");
    let unchanged = if r["unchanged"] == true {
        " (the same file as the live data: nothing changed)"
    } else {
        ""
    };
    out.push_str(&format!(
        "import {} into {}: {status}{unchanged}\n",
        r["id"],
        r["registry"].as_str().unwrap_or("?")
    ));
    if let Some(error) = r["error"].as_str() {
        out.push_str(&format!("  why       {error}\n"));
    }
    out.push_str(&format!(
        "  rows      {} read: {} accepted, {} rejected, {} repeated\n",
        count(&r["rows_total"]),
        count(&r["rows_accepted"]),
        count(&r["rows_rejected"]),
        count(&r["rows_duplicate"]),
    ));
    if r["entries_before"].is_number() || r["entries_after"].is_number() {
        out.push_str(&format!(
            "  entries   {} before, {} after\n",
            count(&r["entries_before"]),
            count(&r["entries_after"]),
        ));
    }
    out.push_str(&format!(
        "  file      {}, SHA-256 {}\n",
        bytes(r["bytes"].as_u64().unwrap_or(0)),
        r["checksum"].as_str().unwrap_or("-")
    ));
    if let Some(ms) = r["duration_ms"].as_i64() {
        out.push_str(&format!("  took      {:.1} s\n", ms as f64 / 1000.0));
    }
    if let Some(rejects) = r["rejects"].as_array().filter(|r| !r.is_empty()) {
        out.push_str(&format!(
            "  rejected rows (the first {} of {}):\n",
            rejects.len().min(10),
            count(&r["rows_rejected"])
        ));
        for reject in rejects.iter().take(10) {
            out.push_str(&format!(
                "    line {}: {} {}\n",
                reject["line"],
                reject["reason"].as_str().unwrap_or("?"),
                reject["raw"]
            ));
        }
    }
    let shrink = r["error"]
        .as_str()
        .is_some_and(|e| e.contains("force=true"));
    if status == "refused" && shrink {
        out.push_str("  if the removal is intended, run the import again with --force\n");
    }
    out
}

/// A count with its thousands apart: `2 000 010`; `-` when absent.
fn count(v: &Value) -> String {
    let Some(n) = v.as_i64() else {
        return "-".to_string();
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A size for people: `812 B`, `40.1 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_and_sizes_read_easily() {
        assert_eq!(count(&json!(2000010)), "2 000 010");
        assert_eq!(count(&json!(999)), "999");
        assert_eq!(count(&json!(null)), "-");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(42_048_000), "40.1 MiB");
    }

    #[test]
    fn a_refused_shrink_says_how_to_force_it() {
        let text = summary(&json!({
            "id": 7, "registry": "robinson", "status": "refused", "rows_total": 10,
            "rows_accepted": 10, "rows_rejected": 0, "rows_duplicate": 0, "bytes": 100,
            "error": "this snapshot would remove 90 … upload again with force=true",
        }));
        assert!(
            text.starts_with("import 7 into robinson: refused\n"),
            "{text}"
        );
        assert!(text.contains("--force"), "{text}");
    }
}
