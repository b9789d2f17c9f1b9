//! `bench/run soak`: tarcza at a fixed fraction of its measured maximum for a while
//! (issue 16): errors, resident memory at the start and the end, p99 per minute.
//!
//! The load is wrk with a delay between each connection's requests (`BENCH_DELAY_MS`
//! in bench/check.lua): 512 connections, each waiting the delay that makes them together
//! send the target rate (found by three 5-second runs). wrk runs once a minute, so each
//! minute has its own throughput, p99 and error count; the RSS is read once a second
//! meanwhile, and each minute is judged by the median of its readings: one reading catches
//! the allocator's cycle of taking and returning memory anywhere in a swing of several MiB.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

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
        let (run, readings) = while_sampling_rss(pid, || {
            wrk_with(addr, &probes, 60, CONNECTIONS, Some(delay_ms))
        });
        let run = run?;
        let minute_rss = Spread::of(readings).context("no RSS reading in a minute")?;
        eprintln!(
            "    {} ({} errors), RSS {}",
            run.describe(),
            run.errors,
            minute_rss.describe()
        );
        errors += run.errors;
        p99s.push(run.p99_ms);
        rates.push(run.rps);
        rss.push(minute_rss);
    }
    // From the first minute (the connections' buffers made) to the last.
    let (rss_start, rss_end) = (rss[0].median, rss[rss.len() - 1].median);
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
        "soak: RSS per minute, MiB (median of a reading a second, min–max)",
        format!(
            "{} before the soak; {}",
            rss_before >> 20,
            rss.iter()
                .map(Spread::describe)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "",
        None,
    );
    t.row(
        "soak: RSS, the first minute's median and the last's",
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

/// Runs `work` while reading `pid`'s RSS once a second; returns its result and the readings.
fn while_sampling_rss<T>(pid: u32, work: impl FnOnce() -> T) -> (T, Vec<u64>) {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut readings = Vec::new();
            while !done.load(Ordering::Relaxed) {
                // The process gone: the readings so far (the caller notices the rest).
                let Ok(bytes) = rss_bytes(pid) else { break };
                readings.push(bytes);
                std::thread::sleep(Duration::from_secs(1));
            }
            readings
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        (
            result,
            sampler.join().expect("the RSS sampler does not panic"),
        )
    })
}

/// A minute's RSS readings: their median and range.
struct Spread {
    median: u64,
    min: u64,
    max: u64,
}

impl Spread {
    /// `None` without readings.
    fn of(mut readings: Vec<u64>) -> Option<Spread> {
        readings.sort_unstable();
        Some(Spread {
            min: *readings.first()?,
            max: *readings.last()?,
            median: readings[(readings.len() - 1) / 2],
        })
    }

    fn describe(&self) -> String {
        format!(
            "{} ({}–{})",
            self.median >> 20,
            self.min >> 20,
            self.max >> 20
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minutes_spread_is_its_middle_reading_and_range() {
        let mib = |n: u64| n << 20;
        let s = Spread::of(vec![mib(68), mib(60), mib(62), mib(61), mib(65)]).unwrap();
        assert_eq!((s.median, s.min, s.max), (mib(62), mib(60), mib(68)));
        assert_eq!(s.describe(), "62 (60–68)");
        assert!(Spread::of(Vec::new()).is_none());
    }
}
