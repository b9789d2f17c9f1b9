//! The in-memory snapshot that answers `/check`: Postgres is the truth, memory answers.
//!
//! A [`Snapshot`] is immutable. [`Index`] holds the current one behind an `ArcSwap`, so
//! readers never wait; [`Index::refresh`] builds the next one from what changed in
//! Postgres since the current one's version and swaps it in whole. `freshness` says
//! whether a snapshot may be answered from.
//!
//! Prefix entries of the do-not-call list (range blocks) are kept apart, in `prefixes`.
//!
//! Nothing here knows HTTP, and what a refresh reads is in `store::snapshot`.

pub mod freshness;
mod members;
mod prefixes;
mod refresh;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{HashScheme, PhoneNumber, Prefix, Role, Scope};
pub use members::{return_free_memory, Members};
pub use prefixes::PrefixBlocks;

/// Who is calling, as found from their API key.
#[derive(Clone, Debug)]
pub struct Principal {
    pub id: i64,
    pub name: Arc<str>,
    pub role: Role,
}

/// What the index keeps of a do-not-call entry: enough to decide and to explain.
#[derive(Clone, Debug)]
pub struct DncBlock {
    pub id: i64,
    pub scope: Scope,
    pub reason: Option<Arc<str>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl DncBlock {
    fn blocks(&self, call: &Scope, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|t| t > now) && self.scope.applies_to(call)
    }

    fn reason(&self, prefix: Option<Prefix>) -> Reason<'_> {
        Reason::Dnc {
            entry_id: self.id,
            prefix,
            scope: self.scope.kind(),
            client: self.scope.client(),
            campaign: self.scope.campaign(),
            reason: self.reason.as_deref(),
            expires_at: self.expires_at,
        }
    }
}

/// One registry as loaded: its members and what is known about the data.
#[derive(Debug)]
pub struct RegistryIndex {
    pub id: i32,
    pub name: Arc<str>,
    pub version: i64,
    pub generation: Option<i64>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub source_time: Option<DateTime<Utc>>,
    pub last_import_id: Option<i64>,
    /// Set when the members are SHA-256 keys of numbers spelled this way.
    pub hash_scheme: Option<HashScheme>,
    pub members: Arc<Members>,
}

impl RegistryIndex {
    /// The key `number` would have among this registry's members.
    pub fn key(&self, number: PhoneNumber) -> u64 {
        match self.hash_scheme {
            None => number.digits(),
            Some(scheme) => scheme.key(number),
        }
    }
}

#[derive(Debug)]
pub struct Snapshot {
    /// The database version this snapshot reflects (every change bumps it).
    pub version: i64,
    pub loaded_at: DateTime<Utc>,
    dnc: Arc<HashMap<u64, Vec<DncBlock>>>,
    prefixes: Arc<PrefixBlocks>,
    registries: Vec<Arc<RegistryIndex>>,
    keys: Arc<HashMap<[u8; 32], Principal>>,
}

/// Why a number may not be called. Serialized as the items of `reasons[]`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum Reason<'a> {
    Dnc {
        entry_id: i64,
        /// Set when the entry blocks a prefix of the number (`"+4870"`).
        #[serde(skip_serializing_if = "Option::is_none")]
        prefix: Option<Prefix>,
        scope: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        campaign: Option<&'a str>,
        reason: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    Registry {
        registry: &'a str,
    },
}

impl Snapshot {
    /// Every reason `number` may not be called at `now` in a call for `call` (the
    /// client and campaign it is made for); empty means it may be called.
    pub fn check(&self, number: PhoneNumber, call: &Scope, now: DateTime<Utc>) -> Vec<Reason<'_>> {
        let digits = number.digits();
        let mut reasons = Vec::new();
        if let Some(blocks) = self.dnc.get(&digits) {
            for b in blocks.iter().filter(|b| b.blocks(call, now)) {
                reasons.push(b.reason(None));
            }
        }
        for (prefix, blocks) in self.prefixes.matching(number) {
            for b in blocks.iter().filter(|b| b.blocks(call, now)) {
                reasons.push(b.reason(Some(prefix)));
            }
        }
        for r in &self.registries {
            if r.members.contains(r.key(number)) {
                reasons.push(Reason::Registry { registry: &r.name });
            }
        }
        reasons
    }

    pub fn principal(&self, key_hash: &[u8; 32]) -> Option<&Principal> {
        self.keys.get(key_hash)
    }

    pub fn registries(&self) -> &[Arc<RegistryIndex>] {
        &self.registries
    }

    pub fn registry(&self, name: &str) -> Option<&Arc<RegistryIndex>> {
        self.registries.iter().find(|r| &*r.name == name)
    }

    /// Numbers with at least one active do-not-call entry.
    pub fn dnc_numbers(&self) -> usize {
        self.dnc.len()
    }

    /// Prefixes with at least one active do-not-call entry.
    pub fn dnc_prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

/// Holder of the current snapshot, shared by every request of this process.
#[derive(Default)]
pub struct Index {
    current: ArcSwapOption<Snapshot>,
    /// Serialises refreshes: one builder at a time, readers never wait.
    loader: tokio::sync::Mutex<()>,
    /// Members an import of this process has already built, by generation, so the
    /// refresh that follows the import does not read them back from Postgres.
    staged: Mutex<HashMap<i64, Arc<Members>>>,
    db_ok: AtomicBool,
    last_db_error: Mutex<Option<String>>,
    freshness: Freshness,
}

/// How current the snapshot is known to be: read on every `/check`, so atomics.
struct Freshness {
    epoch: Instant,
    /// When a refresh last found the snapshot current (it read the database's version
    /// and caught up to it), in ms since `epoch` plus one; 0 = never.
    confirmed: AtomicU64,
    /// When the last refresh ended, successful or not (same unit).
    attempted: AtomicU64,
    /// Whether the last refresh failed because the database could not be reached.
    unreachable: AtomicBool,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness {
            epoch: Instant::now(),
            confirmed: AtomicU64::new(0),
            attempted: AtomicU64::new(0),
            unreachable: AtomicBool::new(false),
        }
    }
}

impl Freshness {
    fn stamp(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64 + 1
    }

    fn since(&self, stamp: u64, now: u64) -> Option<Duration> {
        (stamp > 0).then(|| Duration::from_millis(now.saturating_sub(stamp)))
    }
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// The current snapshot, or `None` before the first load.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    pub fn stage_members(&self, generation: i64, members: Arc<Members>) {
        self.staged
            .lock()
            .expect("staged lock")
            .insert(generation, members);
    }

    fn take_staged(&self, generation: i64) -> Option<Arc<Members>> {
        self.staged.lock().expect("staged lock").remove(&generation)
    }

    /// Records whether the last contact with Postgres worked, for `/readyz`.
    pub fn set_db_status(&self, result: Result<(), String>) {
        self.db_ok.store(result.is_ok(), Ordering::Relaxed);
        *self.last_db_error.lock().expect("db error lock") = result.err();
    }

    /// Records that the snapshot was current as of `as_of` (a refresh that started then
    /// has caught up with the database).
    fn confirm(&self, as_of: Instant) {
        let stamp = self.freshness.stamp(as_of);
        self.freshness.confirmed.fetch_max(stamp, Ordering::Relaxed);
    }

    /// Records the end of a refresh: `unreachable` when it failed to reach the database.
    fn attempted(&self, unreachable: bool) {
        let stamp = self.freshness.stamp(Instant::now());
        self.freshness.attempted.fetch_max(stamp, Ordering::Relaxed);
        self.freshness
            .unreachable
            .store(unreachable, Ordering::Relaxed);
    }

    /// Time since the snapshot was last confirmed current; `None` before the first load.
    pub fn lag(&self) -> Option<Duration> {
        let now = self.freshness.stamp(Instant::now());
        let confirmed = self.freshness.confirmed.load(Ordering::Relaxed);
        self.freshness.since(confirmed, now)
    }

    /// `Some(lag)` when the snapshot has not been confirmed current for longer than
    /// `max_lag` although the database is reachable, or although nothing has tried to
    /// reach it for that long (the change follower died or hangs): answers from it could
    /// miss a block, so they must not be given. `None` while within the limit, and while
    /// the database is known to be down (then memory is the best there is, and `/readyz`
    /// says `degraded`).
    pub fn stale_for(&self, max_lag: Duration) -> Option<Duration> {
        let now = self.freshness.stamp(Instant::now());
        let lag = self
            .freshness
            .since(self.freshness.confirmed.load(Ordering::Relaxed), now)?;
        if lag <= max_lag {
            return None;
        }
        let tried = self
            .freshness
            .since(self.freshness.attempted.load(Ordering::Relaxed), now);
        let outage = self.freshness.unreachable.load(Ordering::Relaxed)
            && tried.is_some_and(|t| t <= max_lag);
        (!outage).then_some(lag)
    }

    /// `None` when the database answered last time, else the error it gave.
    pub fn db_problem(&self) -> Option<String> {
        if self.db_ok.load(Ordering::Relaxed) {
            None
        } else {
            Some(
                self.last_db_error
                    .lock()
                    .expect("db error lock")
                    .clone()
                    .unwrap_or_else(|| "not connected yet".into()),
            )
        }
    }
}
