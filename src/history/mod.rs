//! Point-in-time answers: what `/v1/check` would have answered for a number at an instant,
//! and why; and a number's whole timeline.
//!
//! Every answer is decided on one data version, the snapshot version `/check` reports.
//! History finds the version in force at the instant (the last one committed by then,
//! `data_version_log`), each do-not-call entry's state at that version, and each
//! registry's generation then and whether the number was in it (see `registry`); the
//! verdict comes from the same rule `/check` applies, evaluated at the instant (so an
//! entry that expired before it does not block). It does not replay availability: a
//! process whose data was stale then answered 503, history answers from the data.
//!
//! Like `import/`, this layer takes plain inputs (the pool, the index, a number, a scope,
//! an instant) and returns its own error; `http/` turns both into answers.

pub mod dnc;
pub mod registry;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::domain::{PhoneNumber, Prefix, Scope};
use crate::index::{Index, Reason};
use crate::store::history as store;
use crate::store::snapshot as reads;
use dnc::{EntryAt, EntryHistory};
use registry::{Membership, Walk};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{at} is in the future ({now} now); history answers for past instants")]
    Future {
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "no history before {floor}: tarcza keeps it from when it began recording, and erases \
         what is older than TARCZA_EVIDENCE_RETENTION; {at} is earlier"
    )]
    Unavailable {
        at: DateTime<Utc>,
        floor: DateTime<Utc>,
    },
    #[error("this process's data is behind the database's; try again in a moment")]
    Behind,
    #[error(
        "a registry generation's changes were not recorded, so membership before it is unknown"
    )]
    Unrecorded,
    #[error("tarcza has not loaded its data yet")]
    NotReady,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What `/check` would have answered at an instant, and why.
pub struct PointInTime {
    pub number: PhoneNumber,
    pub at: DateTime<Utc>,
    /// The snapshot version in force then, and when it was committed.
    pub snapshot_version: i64,
    pub version_committed_at: DateTime<Utc>,
    /// Every do-not-call entry of the number that existed then, as it stood then.
    pub dnc: Vec<EntryAt>,
    /// Each registry's generation then, and whether the number was in it.
    pub registries: Vec<Membership>,
    pub history_from: DateTime<Utc>,
    registry_names: Vec<Arc<str>>,
}

impl PointInTime {
    /// The reasons `/check` would have given, in its order: do-not-call entries, then
    /// registries by name.
    pub fn reasons(&self) -> Vec<Reason<'_>> {
        // The number's own entries, then range blocks shortest prefix first, as `/check`.
        let mut blocking: Vec<&EntryAt> = self.dnc.iter().filter(|e| e.blocking).collect();
        blocking.sort_by_key(|e| (e.prefix.map(Prefix::digits), e.entry_id));
        let mut reasons: Vec<Reason<'_>> = blocking
            .into_iter()
            .map(|e| e.block.reason(e.prefix))
            .collect();
        for (m, name) in self.registries.iter().zip(&self.registry_names) {
            if m.member {
                reasons.push(Reason::Registry { registry: name });
            }
        }
        reasons
    }
}

/// What `/check` would have answered for `number` in a call for `call` at `at`.
pub async fn at(
    pool: &PgPool,
    index: &Index,
    number: PhoneNumber,
    call: &Scope,
    at: DateTime<Utc>,
) -> Result<PointInTime, HistoryError> {
    let now = Utc::now();
    if at > now {
        return Err(HistoryError::Future { at, now });
    }
    // The live generation's members come from memory: bring it up to the database first.
    index.refresh(pool).await?;
    let snapshot = index.current().ok_or(HistoryError::NotReady)?;
    let mut tx = reads::begin(pool).await?;
    let floor = store::floor(&mut tx).await?;
    if at < floor {
        return Err(HistoryError::Unavailable { at, floor });
    }
    let (version, committed_at) = store::version_at(&mut tx, at)
        .await?
        .ok_or(HistoryError::Unavailable { at, floor })?;

    let entries = store::dnc_entries(&mut tx, number.digits()).await?;
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let states = store::dnc_states(&mut tx, &ids).await?;
    let dnc = EntryHistory::group(entries, states)
        .iter()
        .filter_map(|h| h.at(version, at, call))
        .collect();

    let mut registries = Vec::new();
    let mut registry_names = Vec::new();
    for r in store::registries(&mut tx).await? {
        let live = snapshot.registry(&r.name).map(|r| &**r);
        let walk = Walk::read(&mut tx, r.id, &r.name, live, number).await?;
        registries.push(walk.at(version)?);
        registry_names.push(Arc::from(r.name.as_str()));
    }
    tx.commit().await?;
    Ok(PointInTime {
        number,
        at,
        snapshot_version: version,
        version_committed_at: committed_at,
        dnc,
        registries,
        history_from: floor,
        registry_names,
    })
}

/// A number's timeline: every recorded event of its do-not-call entries and registry
/// memberships, oldest first.
pub struct Timeline {
    pub number: PhoneNumber,
    pub history_from: DateTime<Utc>,
    pub events: Vec<(DateTime<Utc>, Value)>,
}

pub async fn timeline(
    pool: &PgPool,
    index: &Index,
    number: PhoneNumber,
) -> Result<Timeline, HistoryError> {
    index.refresh(pool).await?;
    let snapshot = index.current().ok_or(HistoryError::NotReady)?;
    let now = Utc::now();
    let mut tx = reads::begin(pool).await?;
    let floor = store::floor(&mut tx).await?;
    let entries = store::dnc_entries(&mut tx, number.digits()).await?;
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let states = store::dnc_states(&mut tx, &ids).await?;
    let mut events: Vec<(DateTime<Utc>, Value)> = EntryHistory::group(entries, states)
        .iter()
        .flat_map(|h| h.events(now))
        .collect();
    for r in store::registries(&mut tx).await? {
        let live = snapshot.registry(&r.name).map(|r| &**r);
        let walk = Walk::read(&mut tx, r.id, &r.name, live, number).await?;
        for c in walk.changes()? {
            let at = c.generation.live_from.unwrap_or(floor);
            let event = if c.added {
                "registry.added"
            } else {
                "registry.removed"
            };
            events.push((
                at,
                serde_json::json!({"event": event, "registry": r.name,
                                   "import_id": c.generation.import_id}),
            ));
        }
    }
    tx.commit().await?;
    events.sort_by_key(|(at, _)| *at);
    Ok(Timeline {
        number,
        history_from: floor,
        events,
    })
}
