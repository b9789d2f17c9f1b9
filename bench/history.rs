//! `tarcza-bench history-storage`: what registry history costs. A registry of 10M numbers
//! is imported, then changed by 30 delta imports of 1% churn each (1% of the numbers
//! removed, as many new ones added), all through the API; then the storage of the history
//! tables is read from PostgreSQL, next to the size of one generation's member table (what
//! a copy per generation would cost), and history is asked about a number.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::data::{self, Rng};
use super::http1::Conn;
use super::{finish, stop, upload, write_csv, Table, KEY};

struct Opts {
    entries: usize,
    imports: usize,
    churn: f64,
}

pub async fn run(args: &[String]) -> Result<()> {
    let mut o = Opts {
        entries: 10_000_000,
        imports: 30,
        churn: 0.01,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next().context("flag needs a value")?;
        match a.as_str() {
            "--entries" => o.entries = value.parse()?,
            "--imports" => o.imports = value.parse()?,
            "--churn" => o.churn = value.parse()?,
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
    } = super::start_both("tarcza-bench-history").await?;

    super::step(&format!("importing {} numbers", o.entries));
    let mut rng = Rng::new(0x6869_7374);
    let mut members = data::distinct_numbers(&mut rng, o.entries);
    members.sort_unstable();
    let file = work.join("registry.csv");
    write_csv(&file, &members).await?;
    upload(addr, &file, "").await?;
    std::fs::remove_file(&file)?;
    let probe = members[members.len() / 2];
    // Asking about this instant walks back over every later generation.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let after_first = chrono::Utc::now();

    let changed = (o.entries as f64 * o.churn) as usize;
    let mut delta_secs = Vec::new();
    for i in 0..o.imports {
        super::step(&format!(
            "delta import {}/{}: {changed} removed, {changed} added",
            i + 1,
            o.imports
        ));
        let mut removed = std::collections::BTreeSet::new();
        while removed.len() < changed {
            removed.insert(members[rng.below(members.len() as u64) as usize]);
        }
        let mut added = std::collections::BTreeSet::new();
        while added.len() < changed {
            let n = data::pl_mobile(&mut rng);
            if members.binary_search(&n).is_err() && !removed.contains(&n) {
                added.insert(n);
            }
        }
        let mut csv = String::from("numer;op\n");
        for n in &removed {
            csv.push_str(&format!("{:09};D\n", n % 1_000_000_000));
        }
        for n in &added {
            csv.push_str(&format!("{:09};A\n", n % 1_000_000_000));
        }
        let file = work.join("delta.csv");
        tokio::fs::write(&file, csv).await?;
        let started = Instant::now();
        upload(addr, &file, "mode=delta").await?;
        delta_secs.push(started.elapsed().as_secs_f64());
        members.retain(|n| !removed.contains(n));
        members.extend(added);
        members.sort_unstable();
    }

    super::step("measuring");
    let pool = tarcza::db::connect(&url).await?;
    let size = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT pg_total_relation_size($1::regclass)")
                .bind(table)
                .fetch_one(&pool)
                .await
        }
    };
    let changes = size("registry_changes").await?;
    let generations = size("registry_generations").await?;
    let versions = size("data_version_log").await?;
    let generation: i64 =
        sqlx::query_scalar("SELECT generation FROM registries WHERE name = 'robinson'")
            .fetch_one(&pool)
            .await?;
    let member_table: i64 = sqlx::query_scalar(&format!(
        "SELECT pg_total_relation_size('{}'::regclass)",
        tarcza::store::members::table_name(generation)
    ))
    .fetch_one(&pool)
    .await?;
    let (keys, chunks): (i64, i64) =
        sqlx::query_as("SELECT coalesce(sum(count), 0)::bigint, count(*) FROM registry_changes")
            .fetch_one(&pool)
            .await?;
    let history = changes + generations + versions;
    t.row(
        &format!(
            "registry history: {} entries, {} imports of {:.0}% churn",
            o.entries,
            o.imports,
            o.churn * 100.0
        ),
        format!(
            "{:.1} MiB ({keys} changed numbers in {chunks} chunks, {:.2} B a changed number)",
            history as f64 / 1048576.0,
            changes as f64 / keys.max(1) as f64
        ),
        "∝ churn",
        None,
    );
    t.row(
        "one generation's member table (a copy per generation would cost this each time)",
        format!(
            "{:.1} MiB; {} copies: {:.1} GiB",
            member_table as f64 / 1048576.0,
            o.imports,
            (member_table as f64 * o.imports as f64) / 1073741824.0
        ),
        "",
        None,
    );
    delta_secs.sort_by(f64::total_cmp);
    t.row(
        "delta import (1% churn) until live, median",
        format!("{:.1} s", delta_secs[delta_secs.len() / 2]),
        "",
        None,
    );
    let mut conn = Conn::connect(addr).await?;
    let mut timings = Vec::new();
    for path in [
        format!("/v1/history?number=%2B{probe}"),
        format!(
            "/v1/history?number=%2B{probe}&at={}",
            after_first.to_rfc3339().replace('+', "%2B")
        ),
    ] {
        let started = Instant::now();
        let r = conn.get(&path, KEY).await?;
        if r.status != 200 {
            stop(&mut server)?;
            bail!(
                "history answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    t.row(
        &format!(
            "history of one number over {} generations: timeline; at the first",
            o.imports + 1
        ),
        format!("{:.1} ms, {:.1} ms", timings[0], timings[1]),
        "",
        None,
    );

    stop(&mut server)?;
    drop(pool);
    finish(pg, &work, &t).await
}
