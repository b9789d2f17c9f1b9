//! Background loops, each around a single step that tests can call directly, each run
//! under [`supervise`]: following changes (`changes`), the scheduled registry sync
//! (`sync`, fetching through `sources`), the change feed's upkeep (`feed`), webhook
//! deliveries (`webhooks`) and the
//! erasure of expired evidence (`retention`).
//!
//! A job takes what it needs (the pool and the index, or a [`Context`]) and returns its
//! own error; it knows nothing of HTTP, and its SQL is in `store`.

pub mod changes;
pub mod feed;
pub mod retention;
pub mod sources;
pub mod sync;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::import::{self, Importer, Running};
use crate::index::Index;
use crate::metrics::Metrics;
use crate::store::locks::{LockKey, SessionLock};

/// What the background jobs work with: the database, this process's snapshot and the
/// settings. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub db: PgPool,
    pub index: Arc<Index>,
    pub settings: Arc<Settings>,
    /// The imports this process runs (a sync's import is watched like an upload's).
    pub imports: Arc<Running>,
    pub metrics: Arc<Metrics>,
}

impl Context {
    /// What an import started by a job works with.
    pub fn importer(&self) -> Importer {
        Importer {
            db: self.db.clone(),
            index: self.index.clone(),
            options: import::Options::of(&self.settings),
            running: self.imports.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Whether this replica leads the work that `key` guards (`what`, for the log), taking
/// the lead if it is free; a lead whose session died is given up.
pub(crate) async fn lead(
    db: &PgPool,
    leadership: &mut Option<SessionLock>,
    key: LockKey,
    what: &str,
) -> bool {
    if let Some(l) = leadership.as_mut() {
        if l.held().await {
            return true;
        }
        tracing::warn!(
            job = what,
            "lost the leader's connection; another replica may take over"
        );
        *leadership = None;
    }
    match SessionLock::try_take(db, key).await {
        Ok(Some(l)) => {
            tracing::info!(job = what, "this replica leads");
            *leadership = Some(l);
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::debug!(job = what, error = %e, "cannot reach the database");
            false
        }
    }
}

/// A leader's pause between passes: `wait`, cut short when this process's data moves on
/// (only while `leading`), but at least `min_pass` from `started`, so a burst of changes
/// does not make a pass per change. False once `shutdown` is cancelled.
pub(crate) async fn pause(
    shutdown: &CancellationToken,
    versions: &mut tokio::sync::watch::Receiver<i64>,
    leading: bool,
    wait: Duration,
    min_pass: Duration,
) -> bool {
    let started = Instant::now();
    tokio::select! {
        _ = shutdown.cancelled() => return false,
        _ = tokio::time::sleep(wait) => {}
        _ = versions.changed(), if leading => {}
    }
    versions.borrow_and_update();
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep_until(started + min_pass) => true,
    }
}

/// First wait before a job that panicked is started again; it doubles up to
/// [`RESTART_MAX`] while the job keeps failing, and starts over once it has run for
/// [`RESTART_MAX`].
pub const RESTART_MIN: Duration = Duration::from_millis(100);
pub const RESTART_MAX: Duration = Duration::from_secs(10);

/// Runs the job that `start` makes until `shutdown`, starting it again whenever it
/// panics (or, still before shutdown, ends on its own after failing before), so that a
/// bug hit once does not leave the process without it: a replica whose change follower
/// died would answer from a frozen snapshot. Each failure is logged with the panic
/// message. A job that returns normally is done (the scheduler with no source to sync).
pub async fn supervise<F, Fut>(name: &'static str, shutdown: CancellationToken, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut delay = RESTART_MIN;
    loop {
        let started = Instant::now();
        let outcome = tokio::spawn(start()).await;
        if shutdown.is_cancelled() {
            return;
        }
        let error = match outcome {
            Ok(()) => return,
            Err(e) if e.is_panic() => panic_message(e.into_panic()),
            Err(e) => e.to_string(),
        };
        if started.elapsed() >= RESTART_MAX {
            delay = RESTART_MIN;
        }
        tracing::error!(job = name, error = %error, restart_in = ?delay, "background job failed; restarting it");
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RESTART_MAX);
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "panic with a non-text payload".into(), |s| s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_job_that_panics_is_started_again_until_it_runs() {
        let runs = Arc::new(AtomicU32::new(0));
        let shutdown = CancellationToken::new();
        let counter = runs.clone();
        let stop = shutdown.clone();
        let supervisor = tokio::spawn(supervise("test", shutdown.clone(), move || {
            let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let stop = stop.clone();
            async move {
                if run < 4 {
                    panic!("run {run} fails");
                }
                stop.cancelled().await;
            }
        }));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            4,
            "three panics, then a run that lasts"
        );
        shutdown.cancel();
        supervisor.await.unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            4,
            "not restarted after shutdown"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_ends_normally_is_not_restarted() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        supervise("test", CancellationToken::new(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
