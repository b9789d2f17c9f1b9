//! Whether a snapshot may be answered from: registry data older than its maximum age
//! must not be answered from as if it were current (fail closed), a registry whose
//! source is configured must have been loaded before anything is answered, and a
//! snapshot that this process has stopped keeping current must not be answered from
//! either. A rule over the snapshot and the settings; `/check` and `/readyz` apply it,
//! and the HTTP layer says how a refusal is answered.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Index, RegistryIndex, Snapshot};
use crate::config::registries::{StalePolicy, DEFAULT_MAX_AGE};
use crate::config::Settings;

/// Why a snapshot must not be answered from: the dialer must not call.
#[derive(Debug, thiserror::Error)]
pub enum Unfit {
    /// A registry whose source is configured has not been loaded yet.
    #[error("{0}")]
    NotLoaded(String),
    /// A registry's data is older than its maximum age (under the `block` policy).
    #[error("{0}")]
    StaleRegistry(String),
    /// This process has not confirmed its snapshot current for too long.
    #[error("{0}")]
    StaleSnapshot(String),
}

/// A caveat attached to a 200 answer (stale data under the `warn` policy).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Warning {
    /// `stale_registry`.
    #[schema(example = "stale_registry")]
    pub code: &'static str,
    pub registry: String,
    pub message: String,
    pub fresh_until: Option<DateTime<Utc>>,
}

/// When the data of a registry stops counting as current: its source time (or, when the
/// source gave none, its import time) plus its maximum age. `None`: no data, or no limit.
pub fn fresh_until(
    source_time: Option<DateTime<Utc>>,
    loaded_at: Option<DateTime<Utc>>,
    max_age: Option<std::time::Duration>,
) -> Option<DateTime<Utc>> {
    let produced = source_time.or(loaded_at)?;
    let age = chrono::Duration::from_std(max_age?).ok()?;
    produced.checked_add_signed(age)
}

/// Refuses to answer (503 `stale_snapshot`) when the snapshot has not been confirmed
/// current for longer than `TARCZA_MAX_SNAPSHOT_LAG` while the database is reachable:
/// the change follower died or hangs, and a block added elsewhere could be missed.
pub fn snapshot_gate(index: &Index, settings: &Settings) -> Result<(), Unfit> {
    match index.stale_for(settings.max_snapshot_lag) {
        None => Ok(()),
        Some(lag) => Err(Unfit::StaleSnapshot(stale_snapshot_message(lag, settings))),
    }
}

pub fn stale_snapshot_message(lag: std::time::Duration, settings: &Settings) -> String {
    format!(
        "this process's data was last confirmed current {:.1} s ago (the limit is {:?}, \
         TARCZA_MAX_SNAPSHOT_LAG) and the database is not known to be down: it may miss \
         recent blocks; do not call",
        lag.as_secs_f64(),
        settings.max_snapshot_lag
    )
}

/// Whether `/check` may answer from `snapshot` at `now`, and with which warnings.
pub fn gate(
    snapshot: &Snapshot,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Vec<Warning>, Unfit> {
    let mut warnings = Vec::new();
    for r in snapshot.registries() {
        let config = settings.registries.iter().find(|c| *c.name == *r.name);
        if r.generation.is_none() {
            if config.is_some_and(|c| c.source.is_some()) {
                return Err(Unfit::NotLoaded(format!(
                    "registry {:?} has a source configured but its first sync has not \
                     succeeded yet; do not call",
                    r.name
                )));
            }
            continue;
        }
        let max_age = config.map_or(Some(DEFAULT_MAX_AGE), |c| c.max_age);
        let policy = config.map_or(StalePolicy::Block, |c| c.stale_policy);
        let Some(until) = fresh_until(r.source_time, r.loaded_at, max_age) else {
            continue;
        };
        if until > now {
            continue;
        }
        let message = stale_message(r, until);
        match policy {
            StalePolicy::Block => {
                return Err(Unfit::StaleRegistry(format!("{message}; do not call")))
            }
            StalePolicy::Warn => warnings.push(Warning {
                code: "stale_registry",
                registry: r.name.to_string(),
                message,
                fresh_until: Some(until),
            }),
        }
    }
    Ok(warnings)
}

fn stale_message(r: &RegistryIndex, until: DateTime<Utc>) -> String {
    format!(
        "the data of registry {:?} is older than its maximum age (current until {})",
        r.name,
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}
