//! `bench/run soak`: tarcza at a fixed fraction of its measured maximum for a while
//! (issue 16): errors, resident memory at the start and the end, p99 per minute.
//!
//! The load is wrk with a delay between each connection's requests (`BENCH_DELAY_MS`
//! in bench/check.lua): 512 connections, each waiting the delay that makes them together
//! send the target rate (found by three 5-second runs). wrk runs once a minute, so each
//! minute has its own throughput, p99 and error count; the RSS is read after each.

use anyhow::{bail, Result};

use super::data::{self, Rng};
use super::{
    finish, quiesce, rss_bytes, step, stop, upload, write_csv, write_probes, wrk, wrk_with, Table,
};

const CONNECTIONS: u32 = 512;

pub async fn run(args: &[String]) -> Result<()> {
    let (mut entries, mut minutes, mut share) = (10_000_000usize, 10u64, 0.8f64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().map(String::as_str).unwrap_or("");
        match a.as_str() {
            "--entries" => entries = v.parse()?,
            "--minutes" => minutes = v.parse()?,
            "--share" => share = v.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let mut t = Table(Vec::new());
    let super::Started {
        work,
        pg,
        url,
        addr,
        mut server,
    } = super::start_both("tarcza-soak").await?;

    step(&format!("importing {entries} registry numbers"));
    let mut rng = Rng::new(0x50a4);
    let mut numbers = data::distinct_numbers(&mut rng, entries);
    let csv = work.join("registry.csv");
    write_csv(&csv, &numbers).await?;
    upload(addr, &csv, "").await?;
    numbers.sort_unstable();
    let probes = work.join("probes.txt");
    let dnc: Vec<u64> = numbers.iter().step_by(100).copied().collect();
    write_probes(&probes, &mut rng, &numbers, &dnc).await?;
    drop(numbers);
    let pool = tarcza::db::connect(&url).await?;
    quiesce(&pool, &[]).await?;

    step("measuring the maximum (wrk, 10 s, 64 connections)");
    let max = wrk(addr, &probes, 10, 64)?;
    let target = max.rps * share;
    // Each connection's cycle is its delay plus its answer's latency, which depends on
    // the load: a few short runs find the delay that gives the target rate.
    let cycle_ms = f64::from(CONNECTIONS) / target * 1000.0;
    let mut delay_ms = (cycle_ms - max.p50_ms).max(0.0).round() as u64;
    for _ in 0..3 {
        let run = wrk_with(addr, &probes, 5, CONNECTIONS, Some(delay_ms))?;
        let latency_ms = f64::from(CONNECTIONS) / run.rps * 1000.0 - delay_ms as f64;
        eprintln!("    delay {delay_ms} ms: {}", run.describe());
        delay_ms = (cycle_ms - latency_ms).max(0.0).round() as u64;
    }
    t.row("maximum (wrk, 64 connections)", max.describe(), "", None);
    t.row(
        "soak load",
        format!(
            "{:.0}% of it: {target:.0} req/s targeted, {CONNECTIONS} connections, {delay_ms} ms between a connection's requests",
            share * 100.0
        ),
        "",
        None,
    );

    let pid = server.id();
    let rss_before = rss_bytes(pid)?;
    let (mut errors, mut p99s, mut rates, mut rss) = (0u64, Vec::new(), Vec::new(), Vec::new());
    for minute in 1..=minutes {
        step(&format!("soak: minute {minute} of {minutes}"));
        let run = wrk_with(addr, &probes, 60, CONNECTIONS, Some(delay_ms))?;
        eprintln!("    {} ({} errors)", run.describe(), run.errors);
        errors += run.errors;
        p99s.push(run.p99_ms);
        rates.push(run.rps);
        rss.push(rss_bytes(pid)?);
    }
    // From the end of the first minute (the connections' buffers made) to the end.
    let (rss_start, rss_end) = (rss[0], rss[rss.len() - 1]);
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    t.row(
        "soak: requests/s per minute",
        format!(
            "mean {mean:.0} ({:.0}% of the maximum): {}",
            mean / max.rps * 100.0,
            rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "",
        None,
    );
    t.row(
        "soak: p99 per minute",
        p99s.iter()
            .map(|p| format!("{p:.2} ms"))
            .collect::<Vec<_>>()
            .join(", "),
        "steady",
        None,
    );
    t.row(
        "soak: errors (non-2xx answers and socket errors)",
        errors.to_string(),
        "0",
        Some(errors == 0),
    );
    let growth = rss_end as f64 / rss_start as f64 - 1.0;
    t.row(
        "soak: RSS after each minute",
        format!(
            "{} MiB before the soak; {}",
            rss_before >> 20,
            rss.iter()
                .map(|r| format!("{}", r >> 20))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "",
        None,
    );
    t.row(
        "soak: RSS after the first minute and at the end",
        format!(
            "{} MiB → {} MiB ({:+.1}%)",
            rss_start >> 20,
            rss_end >> 20,
            growth * 100.0
        ),
        "within 5%",
        Some(growth.abs() <= 0.05),
    );
    stop(&mut server)?;
    drop(pool);
    finish(pg, &work, &t).await
}
