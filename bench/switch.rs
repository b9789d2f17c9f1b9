//! What a setting that is on by default costs (decision receipts, metrics): a second
//! tarcza on the same database with the setting off, measured against the first (on)
//! by turns in adjacent pairs (bench/turns.rs) for `GET /v1/check` under wrk and for
//! 10 000-number batches, so that the machine's slow periods fall on both sides alike.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::turns::{self, Turns};
use super::{batch, free_port, start_tarcza_with, stop, wait_ready, wrk, Probes, Table, WrkRun};

/// A setting to measure: its name in the table and the variable that switches it off.
pub struct Switch {
    pub name: &'static str,
    pub off: (&'static str, &'static str),
    /// The least on/off ratio, for `/check` and for batches.
    pub target: f64,
}

pub struct Cost {
    /// `a` off, `b` on.
    pub check: Turns<WrkRun>,
    /// Numbers/s of 10 000-number batches; `a` off, `b` on.
    pub batch: Turns<f64>,
}

/// Measures `on` (the running tarcza) against a tarcza started here with `switch` off.
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    switch: &Switch,
    exe: &Path,
    url: &str,
    on: SocketAddr,
    probe_file: &Path,
    probes: &Probes,
    seconds: u64,
    connections: u32,
) -> Result<Cost> {
    let port = free_port()?;
    let off: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = start_tarcza_with(exe, url, port, &[switch.off])?;
    wait_ready(off, Duration::from_secs(120)).await?;
    let check = Turns::run(
        async || wrk(off, probe_file, seconds, connections),
        async || wrk(on, probe_file, seconds, connections),
    )
    .await?;
    let batch = Turns::run(
        async || batch(off, probes).await,
        async || batch(on, probes).await,
    )
    .await?;
    stop(&mut server)?;
    Ok(Cost { check, batch })
}

impl Cost {
    pub fn report(&self, switch: &Switch, t: &mut Table, ceiling_p99_ms: f64) {
        let name = switch.name;
        let (off, on) = (self.check.mean_a(), self.check.mean_b());
        t.row(
            &format!(
                "{name} off: requests/s, p50, p99 (mean of {})",
                turns::PAIRS
            ),
            off.describe(),
            "",
            None,
        );
        t.row(
            &format!("{name} on: requests/s, p50, p99 (mean of {})", turns::PAIRS),
            on.describe(),
            "",
            None,
        );
        let target = format!("≥ {:.2}×", switch.target);
        let ratios = self.check.ratios(|r| r.rps);
        t.row(
            &format!("{name} on / off: /check throughput"),
            ratios.describe(),
            &target,
            Some(ratios.median >= switch.target),
        );
        let p99 = on.p99_ms / ceiling_p99_ms;
        t.row(
            &format!("{name} on: p99 / ceiling p99"),
            format!("{p99:.2}×"),
            "≤ 1.5×",
            Some(p99 <= 1.5),
        );
        t.row(
            &format!("{name} on: non-2xx answers under wrk"),
            on.errors.to_string(),
            "0",
            Some(on.errors == 0),
        );
        let batch = self.batch.ratios(|v| *v);
        t.row(
            &format!("{name} on / off: batch numbers/s"),
            format!(
                "{} ({:.0} vs {:.0})",
                batch.describe(),
                turns::mean_of(&self.batch.b),
                turns::mean_of(&self.batch.a)
            ),
            &target,
            Some(batch.median >= switch.target),
        );
    }
}
