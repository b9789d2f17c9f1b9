//! tarcza benchmark: builds the data, starts the release binary on an embedded
//! PostgreSQL, drives it with wrk over loopback, and prints one table with the ceiling
//! (a minimal axum handler over a HashSet) and the naive design (one Postgres query per
//! request) measured in the same run. See bench/README.md.

mod data;
mod history;
mod http1;
mod rules;
mod soak;
mod switch;
mod turns;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Router;
use data::Rng;
use http1::Conn;
use sqlx::PgPool;
use tarcza::domain::{PhoneNumber, Region};
use tarcza::embedded::EmbeddedPostgres;
use tarcza::index::Members;
use tokio::io::AsyncWriteExt;

const KEY: &str = "tz_bench_admin_key_0123456789abcdef";
/// How often the restart step starts tarcza on the loaded data.
const RESTARTS: usize = 3;

struct Opts {
    entries: usize,
    dnc: usize,
    seconds: u64,
    connections: u32,
    us_entries: u64,
    /// Prefix entries and consents of the rules step (0 consents skips it).
    prefixes: usize,
    consents: usize,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("us-scale") {
        let n = args
            .get(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(250_000_000);
        return us_scale(n);
    }
    if args.get(1).map(String::as_str) == Some("soak") {
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(soak::run(&args[2..]));
    }
    if args.get(1).map(String::as_str) == Some("ceiling") {
        // The ceiling alone, on the address given, until killed (bench/levels with
        // LEVELS_SERVER=ceiling, bench/gap): an empty set, as bench/levels' tarcza is empty.
        let addr: SocketAddr = args
            .get(2)
            .context("usage: tarcza-bench ceiling ADDR")?
            .parse()
            .context("ADDR: host:port")?;
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await?;
                axum::serve(listener, ceiling_router(HashSet::new())).await?;
                Ok(())
            });
    }
    if args.get(1).map(String::as_str) == Some("history-storage") {
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(history::run(&args[2..]));
    }
    let mut o = Opts {
        entries: 10_000_000,
        dnc: 100_000,
        seconds: 10,
        connections: 64,
        us_entries: 250_000_000,
        prefixes: 100_000,
        consents: 1_000_000,
    };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .context("flag needs a value")?
                .parse::<u64>()
                .context("number")
        };
        match a.as_str() {
            "--entries" => o.entries = value()? as usize,
            "--dnc" => o.dnc = value()? as usize,
            "--seconds" => o.seconds = value()?,
            "--connections" => o.connections = value()? as u32,
            "--us-entries" => o.us_entries = value()?,
            "--prefixes" => o.prefixes = value()? as usize,
            "--consents" => o.consents = value()? as usize,
            other => bail!("unknown argument {other}"),
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(o))
}

struct Table(Vec<[String; 4]>);

impl Table {
    fn row(&mut self, what: &str, value: String, target: &str, verdict: Option<bool>) {
        let v = match verdict {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        eprintln!("  {what}: {value} {target} {v}");
        self.0.push([what.into(), value, target.into(), v.into()]);
    }
    fn print(&self) {
        println!("| measure | value | target | |");
        println!("|---|---|---|---|");
        for r in &self.0 {
            println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
        }
    }
}

fn step(what: &str) {
    eprintln!("== {what}");
}

async fn run(o: Opts) -> Result<()> {
    let mut t = Table(Vec::new());
    let work = std::env::temp_dir().join(format!("tarcza-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let exe = std::env::current_exe()?.with_file_name("tarcza");
    if !exe.exists() {
        bail!(
            "{} not found: build it with `cargo build --release`",
            exe.display()
        );
    }

    step("starting PostgreSQL");
    let pg_dir = work.join("pg");
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&pg_dir)).await??;
    tarcza::store::schema::create_database(&pg.url("postgres"), "tarcza").await?;
    let url = pg.url("tarcza");

    step("starting tarcza (empty)");
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = start_tarcza(&exe, &url, port)?;
    wait_ready(addr, Duration::from_secs(60)).await?;

    step(&format!(
        "generating {} registry numbers and {} DNC numbers",
        o.entries, o.dnc
    ));
    let mut rng = Rng::new(0x007a_7263_7a61);
    let first = data::distinct_numbers(&mut rng, o.entries);
    let mut sorted_first = first.clone();
    sorted_first.sort_unstable();
    // The second snapshot: 1% of the first removed, 1% new numbers added.
    let churn = o.entries / 100;
    let mut second: Vec<u64> = first[churn..].to_vec();
    let mut added = Vec::with_capacity(churn);
    while added.len() < churn {
        let n = data::pl_mobile(&mut rng);
        if sorted_first.binary_search(&n).is_err() {
            added.push(n);
        }
    }
    second.extend_from_slice(&added);
    let mut sorted_second = second.clone();
    sorted_second.sort_unstable();
    sorted_second.dedup();
    let mut dnc = Vec::with_capacity(o.dnc);
    while dnc.len() < o.dnc {
        dnc.push(data::pl_mobile(&mut rng));
    }
    dnc.sort_unstable();
    dnc.dedup();
    let first_csv = work.join("first.csv");
    let second_csv = work.join("second.csv");
    write_csv(&first_csv, &first).await?;
    write_csv(&second_csv, &second).await?;

    step("loading the DNC list");
    let pool = tarcza::db::connect(&url).await?;
    insert_dnc(&pool, &dnc).await?;
    let mut conn = Conn::connect(addr).await?;
    wait_until_blocked(&mut conn, dnc[0]).await?;
    // Baseline for the memory figure: a fresh start holding the DNC list and no registry.
    stop(&mut server)?;
    let mut server = start_tarcza(&exe, &url, port)?;
    wait_ready(addr, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_base = rss_bytes(server.id())?;
    let mut conn = Conn::connect(addr).await?;

    step("import 1: a full snapshot through the API");
    let started = Instant::now();
    let reply = upload(addr, &first_csv, "").await?;
    let live = started.elapsed();
    let blocked = !allowed(&mut conn, first[0]).await?;
    t.row(
        &format!(
            "import of {} rows via HTTP, until /check answers from it",
            o.entries
        ),
        format!("{:.1} s ({})", live.as_secs_f64(), reply_status(&reply)),
        "≤ 30 s",
        Some(live <= Duration::from_secs(30) && blocked),
    );

    step("import 2 (1% changed) with /check under load");
    let probes = Probes::new(&mut rng, &sorted_first, &sorted_second, &dnc);
    let (load, reply, live2) = import_under_load(addr, &second_csv, &probes).await?;
    t.row(
        "import 2 under load: seconds until live",
        format!("{:.1} s ({})", live2.as_secs_f64(), reply_status(&reply)),
        "≤ 30 s",
        Some(live2 <= Duration::from_secs(30)),
    );
    t.row(
        "import 2 under load: /check answers (failed or wrong)",
        format!(
            "{} ({} failed, {} wrong)",
            load.total, load.failed, load.wrong
        ),
        "0 failed, 0 wrong",
        Some(load.failed == 0 && load.wrong == 0),
    );
    t.row(
        "import 2 under load: /check p99",
        format!("{:.2} ms", load.p99_us as f64 / 1000.0),
        "",
        None,
    );

    // Steady state first: the imports leave PostgreSQL vacuuming, analysing and
    // checkpointing on the cores wrk and tarcza need.
    step("waiting for PostgreSQL to be quiet (vacuum, analyze, checkpoint)");
    quiesce(&pool, &[]).await?;
    let probe_file = work.join("probes.txt");
    write_probes(&probe_file, &mut rng, &sorted_second, &dnc).await?;
    let mut set: HashSet<u64> = sorted_second.iter().copied().collect();
    set.extend(dnc.iter().copied());
    let ceiling_addr = serve_ceiling(set).await?;
    // By turns in adjacent pairs, so that the machine's slow periods fall on both alike.
    let (seconds, connections) = (o.seconds, o.connections);
    let pairs = turns::Turns::run(
        async || {
            let what = "ceiling (HashSet<u64> behind a minimal axum handler)";
            wrk_step(what, ceiling_addr, &probe_file, seconds, connections)
        },
        async || {
            wrk_step(
                "tarcza GET /v1/check",
                addr,
                &probe_file,
                seconds,
                connections,
            )
        },
    )
    .await?;
    let ceiling = pairs.mean_a();
    let tarcza_run = pairs.mean_b();
    let ratios = pairs.ratios(|r| r.rps);

    step("wrk: naive design (one indexed Postgres query per request)");
    let naive_addr = serve_naive(&url, &pool).await?;
    let naive = wrk(naive_addr, &probe_file, o.seconds, o.connections)?;

    t.row(
        &format!("ceiling: requests/s, p50, p99 (mean of {})", turns::PAIRS),
        ceiling.describe(),
        "",
        None,
    );
    t.row("naive: requests/s, p50, p99", naive.describe(), "", None);
    t.row(
        &format!(
            "tarcza: requests/s, p50, p99 (mean of {}, by turns with the ceiling)",
            turns::PAIRS
        ),
        tarcza_run.describe(),
        "",
        None,
    );
    t.row(
        "tarcza / ceiling throughput",
        ratios.describe(),
        "≥ 0.85×",
        Some(ratios.median >= 0.85),
    );
    let p99_ratio = tarcza_run.p99_ms / ceiling.p99_ms;
    t.row(
        "tarcza / ceiling p99",
        format!("{p99_ratio:.2}×"),
        "≤ 1.5×",
        Some(p99_ratio <= 1.5),
    );
    let vs_naive = tarcza_run.rps / naive.rps;
    t.row(
        "tarcza / naive throughput",
        format!("{vs_naive:.1}×"),
        "≥ 5×",
        Some(vs_naive >= 5.0),
    );
    t.row(
        "non-2xx answers under wrk (tarcza)",
        tarcza_run.errors.to_string(),
        "0",
        Some(tarcza_run.errors == 0),
    );

    step("batch POST /v1/check, 10 000 numbers a request");
    let batch_rate = batch(addr, &probes).await?;
    t.row(
        "batch: numbers/s",
        format!("{:.0}", batch_rate),
        "≥ 1 000 000",
        Some(batch_rate >= 1_000_000.0),
    );

    for switch in [
        switch::Switch {
            name: "receipts",
            off: ("TARCZA_RECEIPTS", "false"),
            target: 0.90,
        },
        switch::Switch {
            name: "metrics",
            off: ("TARCZA_METRICS", "false"),
            target: 0.98,
        },
    ] {
        step(&format!(
            "{}: /check and batches with {} off and on, by turns",
            switch.name, switch.name
        ));
        let cost = switch::measure(
            &switch,
            &exe,
            &url,
            addr,
            &probe_file,
            &probes,
            o.seconds,
            o.connections,
        )
        .await?;
        cost.report(&switch, &mut t, ceiling.p99_ms);
    }

    step("restart: time to ready and memory with the data loaded (three restarts)");
    // Three restarts, each figure reported: what stays resident after the build depends on
    // when the allocator hands freed memory back, and one sample would hide that.
    let mut restarts = Vec::new();
    for _ in 0..RESTARTS {
        stop(&mut server)?;
        let started = Instant::now();
        server = start_tarcza(&exe, &url, port)?;
        wait_ready(addr, Duration::from_secs(120)).await?;
        let ready = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        restarts.push((ready, rss_bytes(server.id())?));
    }
    let entries = sorted_second.len() as f64;
    let index_bytes = index_bytes(addr).await?;
    let ready = restarts.iter().map(|r| r.0).max().unwrap_or_default();
    t.row(
        &format!(
            "start to ready with {} entries (slowest of {RESTARTS})",
            sorted_second.len()
        ),
        format!(
            "{:.1} s ({})",
            ready.as_secs_f64(),
            joined(restarts.iter().map(|r| format!("{:.1}", r.0.as_secs_f64())))
        ),
        "≤ 2 s",
        Some(ready <= Duration::from_secs(2)),
    );
    let per_entry: Vec<f64> = restarts
        .iter()
        .map(|r| r.1.saturating_sub(rss_base) as f64 / entries)
        .collect();
    let worst = per_entry.iter().copied().fold(0.0, f64::max);
    let rss_loaded = restarts.iter().map(|r| r.1).max().unwrap_or_default();
    t.row(
        &format!("resident memory per registry entry (RSS delta / entries, worst of {RESTARTS})"),
        format!(
            "{worst:.2} B ({} B; RSS {} MiB with the registry, {} MiB with the DNC list only; index {:.2} B/entry)",
            joined(per_entry.iter().map(|b| format!("{b:.2}"))),
            rss_loaded >> 20,
            rss_base >> 20,
            index_bytes as f64 / entries
        ),
        "≤ 1.5 B",
        Some(worst <= 1.5),
    );
    if o.consents > 0 {
        let setup = rules::Setup {
            addr,
            pid: server.id(),
            pool: &pool,
            probes: &probe_file,
            work: &work,
            registry: &sorted_second,
            prefixes: o.prefixes,
            consents: o.consents,
            seconds: o.seconds,
            connections: o.connections,
            ceiling: &ceiling,
        };
        rules::measure(setup, &mut rng, &mut t).await?;
    }
    stop(&mut server)?;

    if o.us_entries > 0 {
        step(&format!(
            "US-scale index: {} entries loaded directly",
            o.us_entries
        ));
        let out = Command::new(std::env::current_exe()?)
            .args(["us-scale", &o.us_entries.to_string()])
            .stderr(Stdio::inherit())
            .output()?;
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("us-scale output")?;
        let rss = v["rss_bytes"].as_f64().unwrap_or(f64::NAN);
        let ns_big = v["ns_per_lookup"].as_f64().unwrap_or(f64::NAN);
        let ns_small = v["ns_per_lookup_10m"].as_f64().unwrap_or(f64::NAN);
        t.row(
            &format!("US-style index, {} entries: RSS", o.us_entries),
            format!(
                "{} MiB ({:.2} B/entry)",
                rss as u64 >> 20,
                v["heap_bytes"].as_f64().unwrap_or(0.0) / o.us_entries as f64
            ),
            "≤ 1 GB",
            Some(rss <= 1e9),
        );
        t.row(
            "US-style lookup cost vs 10M",
            format!(
                "{ns_big:.0} ns vs {ns_small:.0} ns ({:.2}×)",
                ns_big / ns_small
            ),
            "≤ 2×",
            Some(ns_big / ns_small <= 2.0),
        );
    }

    drop(pool);
    finish(pg, &work, &t).await
}

/// A private PostgreSQL under `work` and the release tarcza on it, ready: for the
/// separate modes (`soak`, `history-storage`).
struct Started {
    /// The run's directory (removed by [`finish`]).
    work: PathBuf,
    pg: EmbeddedPostgres,
    url: String,
    addr: SocketAddr,
    server: Child,
}

async fn start_both(name: &str) -> Result<Started> {
    let work = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    step("starting PostgreSQL and tarcza");
    let exe = std::env::current_exe()?.with_file_name("tarcza");
    let pg_dir = work.join("pg");
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&pg_dir)).await??;
    tarcza::store::schema::create_database(&pg.url("postgres"), "tarcza").await?;
    let url = pg.url("tarcza");
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = start_tarcza(&exe, &url, port)?;
    wait_ready(addr, Duration::from_secs(60)).await?;
    Ok(Started {
        work,
        pg,
        url,
        addr,
        server,
    })
}

/// Stops PostgreSQL, removes the run's directory and prints the table.
async fn finish(mut pg: EmbeddedPostgres, work: &Path, t: &Table) -> Result<()> {
    tokio::task::spawn_blocking(move || pg.stop()).await??;
    let _ = std::fs::remove_dir_all(work);
    println!();
    t.print();
    Ok(())
}

/// Lets PostgreSQL finish with bulk writes before measuring: a vacuum and analyze of
/// `tables` (all of the database's when empty), the checkpoint that writes them out, and
/// no autovacuum worker left running (PostgreSQL shares the two cores with tarcza and
/// wrk; autovacuum would otherwise start in the middle of a wrk run).
async fn quiesce(pool: &PgPool, tables: &[&str]) -> Result<()> {
    if tables.is_empty() {
        sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
    }
    for table in tables {
        sqlx::query(&format!("VACUUM (ANALYZE) {table}"))
            .execute(pool)
            .await?;
    }
    sqlx::query("CHECKPOINT").execute(pool).await?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let workers: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .fetch_one(pool)
        .await?;
        if workers == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

fn reply_status(r: &serde_json::Value) -> String {
    format!("status {}", r["status"].as_str().unwrap_or("?"))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_tarcza(exe: &Path, url: &str, port: u16) -> Result<Child> {
    start_tarcza_with(exe, url, port, &[])
}

fn start_tarcza_with(exe: &Path, url: &str, port: u16, env: &[(&str, &str)]) -> Result<Child> {
    Ok(Command::new(exe)
        .env("DATABASE_URL", url)
        .env("TARCZA_BIND", format!("127.0.0.1:{port}"))
        .env("TARCZA_BOOTSTRAP_ADMIN_KEY", KEY)
        .env("TARCZA_LOG", "warn")
        // Consents of client `bench` exempt from the registry (the rules step).
        .env("TARCZA_REGISTRY_ROBINSON_CONSENT_EXEMPTS", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .spawn()?)
}

fn stop(child: &mut Child) -> Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

async fn wait_ready(addr: SocketAddr, limit: Duration) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(mut c) = Conn::connect(addr).await {
            if let Ok(r) = c.get("/readyz", "-").await {
                if r.status == 200 {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("tarcza was not ready within {limit:?}")
}

fn joined(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")?;
    Ok(kb * 1024)
}

async fn index_bytes(addr: SocketAddr) -> Result<u64> {
    let mut c = Conn::connect(addr).await?;
    let r = c.get("/readyz", "-").await?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    Ok(v["registries"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["index_bytes"].as_u64()).sum())
        .unwrap_or(0))
}

async fn write_csv(path: &Path, numbers: &[u64]) -> Result<()> {
    let mut out = String::with_capacity(numbers.len() * 11 + 8);
    out.push_str("numer\n");
    for n in numbers {
        out.push_str(&format!("{:09}\n", n % 1_000_000_000));
    }
    tokio::fs::write(path, out).await?;
    Ok(())
}

async fn insert_dnc(pool: &PgPool, numbers: &[u64]) -> Result<()> {
    let numbers: Vec<i64> = numbers.iter().map(|&n| n as i64).collect();
    let mut tx = pool.begin().await?;
    let version: i64 =
        sqlx::query_scalar("UPDATE data_version SET version = version + 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO dnc_entries (number, reason, source, version) \
         SELECT n, 'bench', 'bench', $2 FROM unnest($1::bigint[]) AS n",
    )
    .bind(&numbers)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify('tarcza_changes', $1)")
        .bind(version.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn allowed(conn: &mut Conn, n: u64) -> Result<bool> {
    let r = conn.get(&format!("/v1/check?number=%2B{n}"), KEY).await?;
    if r.status != 200 {
        bail!(
            "check answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    Ok(!contains(&r.body, b"\"allowed\":false"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn wait_until_blocked(conn: &mut Conn, n: u64) -> Result<()> {
    for _ in 0..500 {
        if !allowed(conn, n).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the DNC list never reached tarcza")
}

async fn upload(addr: SocketAddr, file: &Path, query: &str) -> Result<serde_json::Value> {
    let len = tokio::fs::metadata(file).await?.len();
    let f = tokio::fs::File::open(file).await?;
    let mut c = Conn::connect(addr).await?;
    let r = c
        .post_stream(
            &format!("/v1/registries/robinson/imports?{query}"),
            KEY,
            len,
            f,
        )
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    if r.status != 202 || v["status"] != "succeeded" {
        bail!("import answered {}: {v}", r.status);
    }
    Ok(v)
}

/// Numbers whose answer cannot change while the second snapshot replaces the first.
struct Probes {
    stable: Vec<(u64, bool)>,
}

impl Probes {
    fn new(rng: &mut Rng, first: &[u64], second: &[u64], dnc: &[u64]) -> Probes {
        let mut stable = Vec::new();
        while stable.len() < 20_000 {
            let n = data::pl_mobile(rng);
            let in_first = first.binary_search(&n).is_ok();
            let in_second = second.binary_search(&n).is_ok();
            let in_dnc = dnc.binary_search(&n).is_ok();
            if in_dnc || (in_first && in_second) {
                stable.push((n, false));
            } else if !in_first && !in_second {
                stable.push((n, true));
            }
        }
        // Make about a third of them blocked ones from the registry.
        for &n in first.iter().step_by((first.len() / 10_000).max(1)) {
            if second.binary_search(&n).is_ok() {
                stable.push((n, false));
            }
        }
        data::shuffle(rng, &mut stable);
        Probes { stable }
    }
}

struct Load {
    total: u64,
    failed: u64,
    wrong: u64,
    p99_us: u64,
}

async fn import_under_load(
    addr: SocketAddr,
    file: &Path,
    probes: &Probes,
) -> Result<(Load, serde_json::Value, Duration)> {
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let stop = stop.clone();
        let failed = failed.clone();
        let wrong = wrong.clone();
        let probes: Vec<(u64, bool)> = probes.stable.iter().skip(t).step_by(16).copied().collect();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut conn = Conn::connect(addr).await.expect("connect");
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (n, expect_allowed) = probes[i % probes.len()];
                i += 1;
                let path = format!(
                    "/v1/check?number={}",
                    data::spelling_urlencoded(n, i as u64)
                );
                let started = Instant::now();
                match conn.get(&path, KEY).await {
                    Ok(r) if r.status == 200 => {
                        let is_allowed = contains(&r.body, b"\"allowed\":true");
                        if is_allowed != expect_allowed {
                            wrong.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        conn = Conn::connect(addr).await.expect("reconnect");
                    }
                }
                lat.push(started.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let started = Instant::now();
    let reply = upload(addr, file, "").await;
    let live = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let reply = reply?;
    lat.sort_unstable();
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or(0);
    Ok((
        Load {
            total: lat.len() as u64,
            failed: failed.load(Ordering::Relaxed),
            wrong: wrong.load(Ordering::Relaxed),
            p99_us: p99,
        },
        reply,
        live,
    ))
}

/// Probe numbers for wrk: mixed spellings, about 30% blocked.
async fn write_probes(path: &PathBuf, rng: &mut Rng, registry: &[u64], dnc: &[u64]) -> Result<()> {
    let mut out = String::new();
    for i in 0..100_000u64 {
        let n = match i % 10 {
            0..=1 => registry[rng.below(registry.len() as u64) as usize],
            2 => dnc[rng.below(dnc.len() as u64) as usize],
            _ => data::pl_mobile(rng),
        };
        out.push_str(&data::spelling_urlencoded(n, i));
        out.push('\n');
    }
    let mut f = tokio::fs::File::create(path).await?;
    f.write_all(out.as_bytes()).await?;
    Ok(())
}

struct WrkRun {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

impl WrkRun {
    fn describe(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            self.rps, self.p50_ms, self.p99_ms
        )
    }
}

/// [`wrk`] as a step of its own: announced, and its figures printed.
fn wrk_step(
    what: &str,
    addr: SocketAddr,
    probes: &Path,
    seconds: u64,
    connections: u32,
) -> Result<WrkRun> {
    step(&format!("wrk {seconds} s: {what}"));
    let run = wrk(addr, probes, seconds, connections)?;
    println!("    {}", run.describe());
    Ok(run)
}

fn wrk(addr: SocketAddr, probes: &Path, seconds: u64, connections: u32) -> Result<WrkRun> {
    wrk_with(addr, probes, seconds, connections, None)
}

/// [`wrk`], each connection waiting `delay_ms` before each of its requests (a fixed
/// rate, for the soak). Socket errors count as errors here.
fn wrk_with(
    addr: SocketAddr,
    probes: &Path,
    seconds: u64,
    connections: u32,
    delay_ms: Option<u64>,
) -> Result<WrkRun> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/check.lua");
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "-s",
    ])
    .arg(&script)
    .arg(format!("http://{addr}"))
    .env("BENCH_PROBES", probes)
    .env("BENCH_KEY", KEY);
    if let Some(ms) = delay_ms {
        cmd.env("BENCH_DELAY_MS", ms.to_string());
    }
    let out = cmd.output().context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("wrk output: {text}"))?;
    let pct = |p: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.trim_start().starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(parse_wrk_time)
    };
    let errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0", counted for the soak only
    // (the other steps have always reported non-2xx answers alone).
    let socket_errors: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let errors = if delay_ms.is_some() {
        errors + socket_errors
    } else {
        errors
    };
    Ok(WrkRun {
        rps,
        p50_ms: pct("50%").context("p50")?,
        p99_ms: pct("99%").context("p99")?,
        errors,
    })
}

fn parse_wrk_time(s: &str) -> Option<f64> {
    let (num, factor) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

/// The ceiling: the same URL, the digits of `number` looked up in a HashSet.
async fn serve_ceiling(set: HashSet<u64>) -> Result<SocketAddr> {
    spawn_server(ceiling_router(set)).await
}

fn ceiling_router(set: HashSet<u64>) -> Router {
    async fn handler(State(set): State<Arc<HashSet<u64>>>, RawQuery(q): RawQuery) -> String {
        let q = q.unwrap_or_default();
        let digits: String = q
            .split('&')
            .find_map(|kv| kv.strip_prefix("number="))
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let n: u64 = digits.parse().unwrap_or(0);
        format!("{{\"allowed\":{}}}", !set.contains(&n))
    }
    Router::new()
        .route("/v1/check", get(handler))
        .with_state(Arc::new(set))
}

/// The naive design: parse the number, then one indexed query per request.
async fn serve_naive(url: &str, pool: &PgPool) -> Result<SocketAddr> {
    let generation: i64 =
        sqlx::query_scalar("SELECT generation FROM registries WHERE name = 'robinson'")
            .fetch_one(pool)
            .await?;
    let table = tarcza::store::members::table_name(generation);
    sqlx::query(&format!(
        "CREATE INDEX IF NOT EXISTS bench_naive_idx ON {table} (number)"
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!("ANALYZE {table}"))
        .execute(pool)
        .await?;
    let naive_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(32)
        .connect(url)
        .await?;
    let sql: &'static str = Box::leak(
        format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE number = $1) \
             OR EXISTS (SELECT 1 FROM dnc_entries WHERE number = $1 AND active)"
        )
        .into_boxed_str(),
    );
    async fn handler(
        State((pool, sql)): State<(PgPool, &'static str)>,
        RawQuery(q): RawQuery,
    ) -> Result<String, axum::http::StatusCode> {
        let q = q.unwrap_or_default();
        let raw = q
            .split('&')
            .find_map(|kv| kv.strip_prefix("number="))
            .unwrap_or("");
        let decoded = raw.replace("%2B", "+").replace("%20", " ");
        let n = PhoneNumber::parse(&decoded, Region::PL)
            .map_err(|_| axum::http::StatusCode::UNPROCESSABLE_ENTITY)?;
        let blocked: bool = sqlx::query_scalar(sql)
            .bind(n.digits() as i64)
            .fetch_one(&pool)
            .await
            .map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?;
        Ok(format!("{{\"allowed\":{}}}", !blocked))
    }
    let router = Router::new()
        .route("/v1/check", get(handler))
        .with_state((naive_pool, sql));
    spawn_server(router).await
}

async fn spawn_server(router: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

async fn batch(addr: SocketAddr, probes: &Probes) -> Result<f64> {
    let numbers: Vec<String> = probes
        .stable
        .iter()
        .cycle()
        .take(10_000)
        .enumerate()
        .map(|(i, &(n, _))| data::spelling(n, i as u64))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "numbers": numbers }))?;
    let body = Arc::new(body);
    // 2 × 400 requests (about 1.5 s): 2 × 100 lasted 0.3–0.4 s, short enough for one
    // hiccup of this shared machine to move the on/off ratios of batches by ±10%.
    let requests = 400;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr).await?;
            for _ in 0..requests {
                let r = c.post("/v1/check", KEY, "application/json", &body).await?;
                if r.status != 200 {
                    bail!("batch answered {}", r.status);
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((2 * requests * 10_000) as f64 / started.elapsed().as_secs_f64())
}

/// Child process: a US-style index built directly, its RSS and its lookup cost, next to
/// the lookup cost of a 10M index of the same kind.
fn us_scale(n: u64) -> Result<()> {
    let lookups = 5_000_000u64;
    let small = build_us(10_000_000, 1);
    let ns_small = time_lookups(&small, lookups, 2);
    drop(small);
    let big = build_us(n, 3);
    let rss = rss_bytes(std::process::id())?;
    let ns_big = time_lookups(&big, lookups, 4);
    println!(
        "{}",
        serde_json::json!({
            "entries": big.len(), "heap_bytes": big.heap_bytes(), "rss_bytes": rss,
            "ns_per_lookup": ns_big, "ns_per_lookup_10m": ns_small,
        })
    );
    Ok(())
}

/// `n` US numbers spread over the whole +1 range, streamed in ascending order.
fn build_us(n: u64, seed: u64) -> Members {
    Members::from_sorted(data::us_registry(n, seed))
}

fn time_lookups(m: &Members, count: u64, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let probes: Vec<u64> = (0..count).map(|_| data::us_number(&mut rng)).collect();
    let started = Instant::now();
    let mut hits = 0u64;
    for &p in &probes {
        hits += u64::from(m.contains(p));
    }
    let ns = started.elapsed().as_nanos() as f64 / count as f64;
    eprintln!(
        "  {} entries: {hits} hits of {count} probes, {ns:.1} ns/lookup",
        m.len()
    );
    ns
}
