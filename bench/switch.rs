//! What a setting that is on by default costs (decision receipts, metrics): a second
//! tarcza on the same database with the setting off, measured against the first (on)
//! by turns — off, on, off, on — for `GET /v1/check` under wrk and for 10 000-number
//! batches, so that drift on a shared machine falls on both sides alike.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::{batch, free_port, start_tarcza_with, stop, wait_ready, wrk, Probes, Table, WrkRun};

/// A setting to measure: its name in the table and the variable that switches it off.
pub struct Switch {
    pub name: &'static str,
    pub off: (&'static str, &'static str),
    /// The least on/off ratio, for `/check` and for batches.
    pub target: f64,
}

pub struct Cost {
    pub on: WrkRun,
    pub off: WrkRun,
    pub batch_on: f64,
    pub batch_off: f64,
}

pub fn mean(runs: &[WrkRun]) -> WrkRun {
    let n = runs.len() as f64;
    WrkRun {
        rps: runs.iter().map(|r| r.rps).sum::<f64>() / n,
        p50_ms: runs.iter().map(|r| r.p50_ms).sum::<f64>() / n,
        p99_ms: runs.iter().map(|r| r.p99_ms).sum::<f64>() / n,
        errors: runs.iter().map(|r| r.errors).sum(),
    }
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
    let (mut runs_on, mut runs_off) = (Vec::new(), Vec::new());
    let (mut batch_on, mut batch_off) = (0.0, 0.0);
    for _ in 0..2 {
        runs_off.push(wrk(off, probe_file, seconds, connections)?);
        runs_on.push(wrk(on, probe_file, seconds, connections)?);
        batch_off += batch(off, probes).await? / 2.0;
        batch_on += batch(on, probes).await? / 2.0;
    }
    stop(&mut server)?;
    Ok(Cost {
        on: mean(&runs_on),
        off: mean(&runs_off),
        batch_on,
        batch_off,
    })
}

impl Cost {
    pub fn report(&self, switch: &Switch, t: &mut Table, ceiling_p99_ms: f64) {
        let name = switch.name;
        t.row(
            &format!("{name} off: requests/s, p50, p99 (mean of 2)"),
            self.off.describe(),
            "",
            None,
        );
        t.row(
            &format!("{name} on: requests/s, p50, p99 (mean of 2)"),
            self.on.describe(),
            "",
            None,
        );
        let target = format!("≥ {:.2}×", switch.target);
        let ratio = self.on.rps / self.off.rps;
        t.row(
            &format!("{name} on / off: /check throughput"),
            format!("{ratio:.2}×"),
            &target,
            Some(ratio >= switch.target),
        );
        let p99 = self.on.p99_ms / ceiling_p99_ms;
        t.row(
            &format!("{name} on: p99 / ceiling p99"),
            format!("{p99:.2}×"),
            "≤ 1.5×",
            Some(p99 <= 1.5),
        );
        t.row(
            &format!("{name} on: non-2xx answers under wrk"),
            self.on.errors.to_string(),
            "0",
            Some(self.on.errors == 0),
        );
        let batch = self.batch_on / self.batch_off;
        t.row(
            &format!("{name} on / off: batch numbers/s"),
            format!(
                "{batch:.2}× ({:.0} vs {:.0})",
                self.batch_on, self.batch_off
            ),
            &target,
            Some(batch >= switch.target),
        );
    }
}
