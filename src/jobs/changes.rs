//! Keeping this process's snapshot in step with Postgres: LISTEN/NOTIFY for speed,
//! a periodic version check as the backstop for missed notifications and outages.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::store::CHANGES_CHANNEL;

/// One step: bring the snapshot up to date. Returns the version now served.
pub async fn run_once(state: &AppState) -> Result<i64, sqlx::Error> {
    state.index.refresh(&state.db).await
}

/// Follows changes until `shutdown`. Errors are logged when the state changes (ok →
/// failing, failing → ok), not on every tick of an outage.
pub async fn follow(state: AppState, interval: Duration, shutdown: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        if listener.is_none() {
            listener = listen(&state).await;
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
        match run_once(&state).await {
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

async fn listen(state: &AppState) -> Option<PgListener> {
    let mut l = PgListener::connect_with(&state.db).await.ok()?;
    l.listen(CHANGES_CHANNEL).await.ok()?;
    Some(l)
}

async fn next(listener: &mut Option<PgListener>) -> Result<PgNotification, sqlx::Error> {
    match listener {
        Some(l) => l.recv().await,
        None => std::future::pending().await,
    }
}
