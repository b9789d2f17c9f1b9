//! Erasing evidence older than the retention period (`TARCZA_EVIDENCE_RETENTION`, kept in
//! the database by its owner): once at start and then daily, through the owner's
//! function `erase_expired_evidence` (migration 0022), which records each run in the
//! audit log. Every replica schedules it; the function runs one call at a time.

use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::evidence;

/// Time between runs.
pub const EVERY: Duration = Duration::from_secs(24 * 3600);
/// A failed run is tried again after this long.
const RETRY: Duration = Duration::from_secs(600);

/// What a run erased (as its audit event records it).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Erased {
    /// Another process was running it.
    pub skipped: bool,
    pub cutoff: Option<chrono::DateTime<chrono::Utc>>,
    pub audit_events: i64,
    pub dnc_entries: i64,
    pub dnc_entries_closed: i64,
    pub consents: i64,
    pub registry_change_chunks: i64,
    pub import_rejects: i64,
}

/// One run: erases what is older than the retention period.
pub async fn run_once(pool: &PgPool) -> Result<Erased, sqlx::Error> {
    let erased = evidence::erase_expired(pool).await?;
    serde_json::from_value(erased).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Runs [`run_once`] at start and every [`EVERY`] until `shutdown`.
pub async fn schedule(pool: PgPool, shutdown: CancellationToken) {
    loop {
        let wait = match run_once(&pool).await {
            Ok(e) if e.skipped => EVERY,
            Ok(e) => {
                tracing::info!(
                    cutoff = ?e.cutoff,
                    audit_events = e.audit_events,
                    dnc_entries = e.dnc_entries + e.dnc_entries_closed,
                    consents = e.consents,
                    registry_change_chunks = e.registry_change_chunks,
                    import_rejects = e.import_rejects,
                    "evidence older than the retention period erased"
                );
                EVERY
            }
            Err(e) => {
                tracing::warn!(error = %e, "erasing evidence older than the retention period failed; will retry");
                RETRY
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
