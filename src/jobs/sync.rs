//! Scheduled re-sync: each registry with a configured source fetches it every interval
//! (see `sources`) and imports it through the ordinary import pipeline. Among many
//! replicas, only the one holding the scheduler's advisory lock runs the schedule; the
//! others pick up the result through LISTEN/NOTIFY like any other change.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::sources::{self, Fetched};
use super::Context;
use crate::config::RegistryConfig;
use crate::domain::ImportStatus;
use crate::import::{self, ImportError, ImportRequest};
use crate::store::imports::{self, Import};
use crate::store::locks::SessionLock;
use crate::store::registries::{self, Registry};

/// How often a replica that does not run the schedule asks whether it may.
const LEADER_POLL: Duration = Duration::from_secs(10);
/// A failed sync is tried again after this long, or after the interval if shorter.
const RETRY_FAILED: Duration = Duration::from_secs(300);

/// Why a sync could not be run or recorded. (A source that cannot be fetched is not an
/// error: the sync's import ends `failed`, and its record says why.)
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("registry {0:?} has no source configured (TARCZA_REGISTRY_<NAME>_SOURCE)")]
    NoSource(String),
    #[error("no registry named {0:?}")]
    UnknownRegistry(String),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Syncs registry `name` from its source once, now, and returns the import recorded for
/// the run (`unchanged: true` when the source had nothing new, `failed` when it could not
/// be fetched: the current data keeps serving). `actor` is the key that asked for it
/// (`None` for the schedule).
pub async fn run_once(ctx: &Context, name: &str, actor: Option<i64>) -> Result<Import, SyncError> {
    run_once_reporting(ctx, name, actor, None).await
}

/// [`run_once`], telling `started` the import's record as soon as it exists (before the
/// source is fetched), so that a caller who cannot wait can say where to follow it.
pub async fn run_once_reporting(
    ctx: &Context,
    name: &str,
    actor: Option<i64>,
    started: Option<oneshot::Sender<Import>>,
) -> Result<Import, SyncError> {
    let config = ctx.settings.registry(name);
    let Some(source) = config.source.clone() else {
        return Err(SyncError::NoSource(name.to_string()));
    };
    let registry = registries::by_name(&ctx.db, name)
        .await?
        .ok_or_else(|| SyncError::UnknownRegistry(name.to_string()))?;
    let described = source.describe();
    let req = request(ctx, &config, registry.clone(), described.clone(), actor);
    let reading = import::reading(&req, ctx.settings.region);
    // The registry is locked from here on: nothing else changes its data meanwhile.
    let mut run = import::start(ctx.importer(), req).await?;
    if let Some(started) = started {
        let _ = started.send(run.import().clone());
    }
    // A 304 or an unchanged checksum speaks of the bytes only. It means "nothing to do"
    // only while the live data came from those bytes read the way these settings read
    // them; after a change of settings (encoding, format, mode…) the file is read again.
    // Not knowing (the database hiccuped) means reading the source again.
    let live = imports::live_file(&ctx.db, registry.id)
        .await
        .ok()
        .flatten();
    let same_file = live
        .filter(|l| l.reading.as_deref() == Some(reading.as_str()))
        .and_then(|l| l.checksum)
        .filter(|c| registry.sync_checksum.as_deref() == Some(c.as_str()));
    let retry_delay = ctx.settings.sync_retry_delay;
    let fetched = sources::fetch(&source, &registry, same_file.as_deref(), retry_delay).await;
    match fetched {
        Err(e) => {
            tracing::warn!(registry = name, source = %described, error = %e, "sync: fetching the source failed; the current data keeps serving");
            Ok(run
                .end_without_data(None, Some(format!("fetching {described} failed: {e}")))
                .await?)
        }
        Ok(Fetched::Unchanged { checksum }) => {
            tracing::info!(registry = name, source = %described, "sync: source unchanged");
            Ok(run.end_without_data(checksum.or(same_file), None).await?)
        }
        Ok(Fetched::Data {
            body,
            size,
            source_time,
            etag,
            last_modified,
        }) => {
            run.set_source_time(source_time);
            run.set_size(size);
            let import = run.load(body).await?;
            if import.outcome.status == ImportStatus::Succeeded {
                registries::save_sync_state(
                    &ctx.db,
                    registry.id,
                    etag.as_deref(),
                    last_modified.as_deref(),
                    import.outcome.checksum.as_deref(),
                )
                .await?;
            }
            tracing::info!(registry = name, import_id = import.id, status = %import.outcome.status, unchanged = import.outcome.unchanged, "sync: import done");
            Ok(import)
        }
    }
}

fn request(
    ctx: &Context,
    config: &RegistryConfig,
    registry: Registry,
    source: String,
    actor: Option<i64>,
) -> ImportRequest {
    ImportRequest {
        registry,
        mode: config.mode,
        format: config.format,
        encoding: config.encoding,
        force: false,
        max_shrink: ctx.settings.max_shrink,
        max_reject_rate: ctx.settings.max_reject_rate,
        actor,
        expected_sha256: None,
        expected_rows: None,
        source: Some(source),
        source_time: None,
        size: None,
    }
}

/// Runs the schedule until `shutdown`: every registry with a source is synced when this
/// replica becomes the scheduler, then every interval.
pub async fn schedule(ctx: Context, shutdown: CancellationToken) {
    let configured: Vec<RegistryConfig> = ctx
        .settings
        .registries
        .iter()
        .filter(|r| r.source.is_some())
        .cloned()
        .collect();
    if configured.is_empty() {
        return;
    }
    let mut leadership: Option<SessionLock> = None;
    let mut due: HashMap<String, Instant> = HashMap::new();
    loop {
        let held = match leadership.as_mut() {
            Some(l) => Some(l.held().await),
            None => None,
        };
        let leading = match held {
            Some(true) => true,
            Some(false) => {
                tracing::warn!(
                    "sync: lost the scheduler connection; another replica may take over"
                );
                leadership = None;
                false
            }
            None => match SessionLock::try_leadership(&ctx.db).await {
                Ok(Some(l)) => {
                    tracing::info!("sync: this replica runs the scheduled re-sync");
                    leadership = Some(l);
                    due.clear();
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "sync: cannot reach the database");
                    false
                }
            },
        };
        let mut wait = LEADER_POLL;
        if leading {
            for r in &configured {
                let now = Instant::now();
                if due.get(&r.name).is_none_or(|t| *t <= now) {
                    // Shutdown does not wait for a long download: the import is dropped
                    // before its commit (nothing changes) and marked failed later.
                    let run = tokio::select! {
                        _ = shutdown.cancelled() => break,
                        run = run_once(&ctx, &r.name, None) => run,
                    };
                    let next = match run {
                        Ok(i) if i.outcome.status == ImportStatus::Succeeded => r.interval,
                        Ok(_) => r.interval.min(RETRY_FAILED),
                        Err(e) => {
                            tracing::warn!(registry = %r.name, error = %e, "sync: run failed");
                            r.interval.min(RETRY_FAILED)
                        }
                    };
                    due.insert(r.name.clone(), Instant::now() + next);
                }
                wait = wait.min(due[&r.name].saturating_duration_since(Instant::now()));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if let Some(l) = leadership {
        l.release().await;
    }
}
