//! Keeping this process's snapshot in step with Postgres: LISTEN/NOTIFY for speed,
//! a periodic version check as the backstop for missed notifications and outages.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::index::Index;
use crate::store::CHANGES_CHANNEL;

/// One step: bring the snapshot up to date. Returns the version now served.
pub async fn run_once(db: &PgPool, index: &Index) -> Result<i64, sqlx::Error> {
    index.refresh(db).await
}

/// Follows changes until `shutdown`. Errors are logged when the state changes (ok →
/// failing, failing → ok), not on every tick of an outage.
pub async fn follow(
    db: PgPool,
    index: Arc<Index>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut listener: Option<PgListener> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        if listener.is_none() {
            listener = listen(&db).await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            n = next(&mut listener) => {
                if let Err(e) = n {
                    tracing::debug!(error = %e, "change listener lost its connection");
                    listener = None;
                }
            }
        }
        match run_once(&db, &index).await {
            Ok(version) if failing => {
                tracing::info!(version, "database reachable again; snapshot caught up");
                failing = false;
            }
            Ok(_) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot refresh from the database; answering from memory");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

async fn listen(db: &PgPool) -> Option<PgListener> {
    let mut l = PgListener::connect_with(db).await.ok()?;
    l.listen(CHANGES_CHANNEL).await.ok()?;
    Some(l)
}

async fn next(listener: &mut Option<PgListener>) -> Result<PgNotification, sqlx::Error> {
    match listener {
        Some(l) => l.recv().await,
        None => std::future::pending().await,
    }
}
