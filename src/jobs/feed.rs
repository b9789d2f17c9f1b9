//! The change feed's upkeep, done by one replica among many (the one holding the feed's
//! advisory lock, like the scheduler's): recording expiries as they pass (an entry's
//! `expires_at` is a change too) and removing history past `TARCZA_CHANGES_RETENTION`. If
//! the replica dies, another takes the lock over and carries on from the database.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::store::changes;
use crate::store::locks::{LockKey, SessionLock};

/// How often the leader looks for expiries without being woken by a change.
const TICK: Duration = Duration::from_secs(1);
/// Least time between two passes (a burst of changes wakes the leader often).
const MIN_PASS: Duration = Duration::from_millis(100);
/// How often a replica that does not lead asks whether it may.
const LEADER_POLL: Duration = Duration::from_secs(2);
/// How often old history is removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What one step of upkeep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upkeep {
    /// Expiries recorded as `dnc.expire` changes.
    pub expiries: u64,
    /// Changes removed past the retention.
    pub pruned: i64,
}

/// One step of the upkeep: records the expiries that have
/// passed and, if `prune`, removes history past the retention.
pub async fn run_once(ctx: &Context, prune: bool) -> Result<Upkeep, sqlx::Error> {
    let expiries = changes::record_expiries(&ctx.db).await?;
    let pruned = if prune {
        changes::prune(&ctx.db, ctx.settings.changes_retention).await?
    } else {
        0
    };
    if expiries > 0 {
        tracing::info!(
            expiries,
            "expired do-not-call entries recorded in the change feed"
        );
        // This replica's snapshot moves on at once (others follow the notification).
        if let Err(e) = ctx.index.refresh(&ctx.db).await {
            tracing::debug!(error = %e, "refresh after recording expiries failed");
        }
    }
    if pruned > 0 {
        tracing::info!(
            pruned,
            "changes older than TARCZA_CHANGES_RETENTION removed"
        );
    }
    Ok(Upkeep { expiries, pruned })
}

/// Runs the upkeep until `shutdown`, while this replica leads.
pub async fn run(ctx: Context, shutdown: CancellationToken) {
    let mut leadership: Option<SessionLock> = None;
    let mut versions = ctx.index.versions();
    let mut next_prune = Instant::now();
    loop {
        let leading = super::lead(&ctx.db, &mut leadership, LockKey::FEED, "change feed").await;
        if leading {
            let prune = Instant::now() >= next_prune;
            match run_once(&ctx, prune).await {
                Ok(_) if prune => next_prune = Instant::now() + PRUNE_EVERY,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "change feed upkeep failed; trying again"),
            }
        }
        let wait = if leading { TICK } else { LEADER_POLL };
        if !super::pause(&shutdown, &mut versions, leading, wait, MIN_PASS).await {
            break;
        }
    }
    if let Some(l) = leadership {
        l.release().await;
    }
}
