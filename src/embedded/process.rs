//! The server process: forked from a keeper thread, stopped by signals.

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::unix::send_signal;
use super::{EmbeddedPostgres, STOP_TIMEOUT};

impl EmbeddedPostgres {
    /// Stops the server (fast shutdown, SIGINT) and waits for it to exit;
    /// after 30 s escalates to SIGQUIT (immediate shutdown), then SIGKILL.
    /// Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let pid = child.id();
        let mut result = Ok(());
        let steps = [
            (libc::SIGINT, "SIGINT", STOP_TIMEOUT),
            (libc::SIGQUIT, "SIGQUIT", Duration::from_secs(10)),
            (libc::SIGKILL, "SIGKILL", Duration::from_secs(10)),
        ];
        let mut exited = false;
        for (i, (signal, name, timeout)) in steps.into_iter().enumerate() {
            // The child has not been reaped yet (we are the only one who
            // waits for it), so `pid` cannot have been reused: signalling it
            // is safe. If it already exited on its own, the signal is harmless.
            if child.try_wait()?.is_some() {
                exited = true;
                break;
            }
            if i > 0 {
                tracing::warn!(pid, "PostgreSQL did not shut down in time, sending {name}");
                result = Err(anyhow!(
                    "PostgreSQL (pid {pid}) did not shut down within {}s of SIGINT; sent {name}",
                    STOP_TIMEOUT.as_secs()
                ));
            }
            send_signal(pid, signal).with_context(|| format!("sending {name} to {pid}"))?;
            if wait_child(child, timeout)? {
                exited = true;
                break;
            }
        }
        if !exited {
            bail!("PostgreSQL (pid {pid}) is still running after SIGKILL");
        }
        let status = child.try_wait()?;
        tracing::info!(pid, ?status, "embedded PostgreSQL stopped");
        self.child = None;
        self.keeper_release = None;
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        result
    }
}

/// Forks `cmd` from a new thread that stays alive until released, so that the
/// PR_SET_PDEATHSIG set in the child is tied to a thread that outlives the
/// caller's (possibly short-lived) thread. The thread only blocks on the
/// channel: the caller owns the [`Child`] and reaps it.
pub(super) fn spawn_from_keeper_thread(
    mut cmd: Command,
) -> Result<(Child, JoinHandle<()>, mpsc::Sender<()>)> {
    let (child_tx, child_rx) = mpsc::channel::<io::Result<Child>>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let keeper = thread::Builder::new()
        .name("tarcza-postgres-keeper".into())
        .spawn(move || {
            let spawned = cmd.spawn();
            let ok = spawned.is_ok();
            if child_tx.send(spawned).is_ok() && ok {
                // Returns when the sender is dropped, i.e. after the server has
                // been reaped (or the process is exiting anyway).
                let _ = release_rx.recv();
            }
        })
        .context("spawning the PostgreSQL keeper thread")?;
    let child = child_rx
        .recv()
        .map_err(|_| anyhow!("PostgreSQL keeper thread died"))??;
    Ok((child, keeper, release_tx))
}

/// Polls until the child exits; `true` if it did within `timeout`.
pub(super) fn wait_child(child: &mut Child, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_millis(20));
    }
}
