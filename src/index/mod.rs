//! The in-memory snapshot that answers `/check`: Postgres is the truth, memory answers.
//!
//! A [`Snapshot`] is immutable. [`Index`] holds the current one behind an `ArcSwap`, so
//! readers never wait; [`Index::refresh`] builds the next one from what changed in
//! Postgres since the current one's version and swaps it in whole. `freshness` says
//! whether a snapshot may be answered from.
//!
//! Besides the do-not-call numbers and registries, a snapshot holds the rules of issue
//! 15: prefix entries (`prefixes`), consents (`consents`) and the client and campaign
//! policies that require them (`policies`).
//!
//! Nothing here knows HTTP, and what a refresh reads is in `store::snapshot`.

mod consents;
pub mod freshness;
mod members;
mod policies;
mod prefixes;
mod refresh;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Binding, HashScheme, PhoneNumber, Prefix, Purpose, Role, Scope};
pub use consents::{counts_at, counts_until, ConsentRef, Consents};
pub use members::{return_free_memory, Changes, Members};
pub use policies::{Policies, PolicyRule};
pub use prefixes::{PrefixBlocks, PrefixMap};

/// Who is calling, as found from their API key.
#[derive(Clone, Debug)]
pub struct Principal {
    pub id: i64,
    pub name: Arc<str>,
    pub role: Role,
    /// The client the key is bound to (README "Client-bound keys"); `None`: unbound.
    pub binding: Option<Arc<Binding>>,
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
    /// Whether this entry blocks a call for `call` at `now` (history asks it about past
    /// instants the same way).
    pub fn blocks(&self, call: &Scope, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|t| t > now) && self.scope.applies_to(call)
    }

    /// This entry as a reason in an answer (`prefix`: the prefix it blocks, if it is a
    /// range block).
    pub fn reason(&self, prefix: Option<Prefix>) -> Reason<'_> {
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
    /// A valid consent of the call's client exempts a number from this registry's block
    /// (`TARCZA_REGISTRY_<NAME>_CONSENT_EXEMPTS`).
    pub consent_exempts: bool,
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
    consents: Arc<Consents>,
    policies: Arc<Policies>,
    registries: Vec<Arc<RegistryIndex>>,
    keys: Arc<HashMap<[u8; 32], Principal>>,
}

/// Why a number may not be called. Serialized as the items of `reasons[]`.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum Reason<'a> {
    /// An entry of the do-not-call list whose scope applies to the call.
    Dnc {
        entry_id: i64,
        /// Set when the entry blocks a prefix of the number (`"+4870"`).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>, example = "+4870")]
        prefix: Option<Prefix>,
        /// `global`, `client` or `campaign`.
        #[schema(example = "global")]
        scope: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        campaign: Option<&'a str>,
        /// Why the entry was made, as recorded.
        reason: Option<&'a str>,
        /// When the entry stops blocking, if ever.
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    /// The number is in a registry's data.
    Registry {
        #[schema(example = "robinson")]
        registry: &'a str,
    },
    /// The call is under a policy that requires a consent, and the number has no valid
    /// one of the client for the policy's purpose.
    Consent {
        /// `no_consent`.
        #[schema(example = "no_consent")]
        code: &'static str,
        client: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        campaign: Option<&'a str>,
        purpose: &'a str,
    },
}

/// A registry match that does not block, and the consent that exempts it.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Exemption<'a> {
    /// `registry`.
    #[schema(example = "registry")]
    pub source: &'static str,
    #[schema(example = "robinson")]
    pub registry: &'a str,
    pub exempted_by: ConsentUse<'a>,
}

/// A consent a verdict rests on: which one, for what, and until when.
#[derive(Debug, Serialize, PartialEq, Clone, Copy, utoipa::ToSchema)]
pub struct ConsentUse<'a> {
    pub consent_id: i64,
    #[schema(example = "marketing")]
    pub purpose: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What `/check` answers for one number: why it may not be called (`reasons`, empty
/// when it may), the registry matches a consent exempted (`exemptions`), and the
/// consent a `consent_required` policy was satisfied by (`consent`).
#[derive(Debug, Default, PartialEq)]
pub struct Verdict<'a> {
    pub reasons: Vec<Reason<'a>>,
    pub exemptions: Vec<Exemption<'a>>,
    pub consent: Option<ConsentUse<'a>>,
}

impl Verdict<'_> {
    pub fn allowed(&self) -> bool {
        self.reasons.is_empty()
    }
}

impl Snapshot {
    /// Whether `number` may be called at `now` in a call for `call` (the client and
    /// campaign it is made for), and why not. A consent only ever lifts a registry's
    /// block (where the registry allows it) or meets a policy: never a DNC entry.
    pub fn check(&self, number: PhoneNumber, call: &Scope, now: DateTime<Utc>) -> Verdict<'_> {
        let digits = number.digits();
        let mut verdict = Verdict::default();
        let reasons = &mut verdict.reasons;
        // The client's policy, and its consent (looked up only when something asks).
        let policy = self.policies.for_call(call);
        let mut consent = ConsentLookup::new(self, number, call, policy, now);
        if let Some(p) = policy.filter(|p| p.consent_required) {
            match consent.get() {
                Some(c) => verdict.consent = Some(c),
                None => reasons.push(Reason::Consent {
                    code: "no_consent",
                    client: &p.client,
                    campaign: p.campaign.as_deref(),
                    purpose: &p.purpose,
                }),
            }
        }
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
                let exempted_by = if r.consent_exempts {
                    consent.get()
                } else {
                    None
                };
                match exempted_by {
                    Some(by) => verdict.exemptions.push(Exemption {
                        source: "registry",
                        registry: &r.name,
                        exempted_by: by,
                    }),
                    None => reasons.push(Reason::Registry { registry: &r.name }),
                }
            }
        }
        verdict
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

    pub fn consents(&self) -> &Consents {
        &self.consents
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Do-not-call entries (number and prefix entries) that block at `now`, by scope:
    /// global, client, campaign.
    pub fn dnc_entries_by_scope(&self, now: DateTime<Utc>) -> [(&'static str, usize); 3] {
        let mut counts = [("global", 0), ("client", 0), ("campaign", 0)];
        let numbers = self.dnc.values().flatten();
        let prefixes = self.prefixes.map().values().flatten();
        for block in numbers.chain(prefixes) {
            if block.expires_at.is_none_or(|t| t > now) {
                let kind = block.scope.kind();
                if let Some(c) = counts.iter_mut().find(|(k, _)| *k == kind) {
                    c.1 += 1;
                }
            }
        }
        counts
    }
}

/// The consent a check rests on, looked up at most once, and only when a policy or an
/// exempting registry asks: a call without a client has none.
struct ConsentLookup<'s, 'c> {
    snapshot: &'s Snapshot,
    number: PhoneNumber,
    client_key: Option<&'c str>,
    purpose: &'s str,
    now: DateTime<Utc>,
    found: Option<Option<ConsentUse<'s>>>,
}

impl<'s, 'c> ConsentLookup<'s, 'c> {
    fn new(
        snapshot: &'s Snapshot,
        number: PhoneNumber,
        call: &'c Scope,
        policy: Option<&'s PolicyRule>,
        now: DateTime<Utc>,
    ) -> Self {
        ConsentLookup {
            snapshot,
            number,
            client_key: call.client_key(),
            // Without a policy, a call is for the default purpose: telephone marketing.
            purpose: policy.map_or(Purpose::DEFAULT, |p| &*p.purpose),
            now,
            found: None,
        }
    }

    fn get(&mut self) -> Option<ConsentUse<'s>> {
        *self.found.get_or_insert_with(|| {
            let found = self.snapshot.consents.find(
                self.number.digits(),
                self.client_key?,
                self.purpose,
                self.now,
            )?;
            Some(ConsentUse {
                consent_id: found.id,
                purpose: self.purpose,
                expires_at: found.expires_at,
            })
        })
    }
}

/// Holder of the current snapshot, shared by every request of this process.
#[derive(Default)]
pub struct Index {
    /// Registries whose block a valid consent lifts (fixed at start-up).
    consent_exempt: Vec<String>,
    current: ArcSwapOption<Snapshot>,
    /// Serialises refreshes: one builder at a time, readers never wait.
    loader: tokio::sync::Mutex<()>,
    /// Members an import of this process has already built, by generation, so the
    /// refresh that follows the import does not read them back from Postgres.
    staged: Mutex<HashMap<i64, Arc<Members>>>,
    db_ok: AtomicBool,
    last_db_error: Mutex<Option<String>>,
    freshness: Freshness,
    published: Published,
}

/// The version of the snapshot last swapped in, for those waiting for the data to move
/// on (long polls of the change feed, the webhook deliverer).
struct Published(tokio::sync::watch::Sender<i64>);

impl Default for Published {
    fn default() -> Self {
        Published(tokio::sync::watch::channel(0).0)
    }
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

    /// An index whose snapshots let a valid consent exempt a number from the registries
    /// named in `registries` (`TARCZA_REGISTRY_<NAME>_CONSENT_EXEMPTS=true`).
    pub fn with_consent_exemptions(registries: Vec<String>) -> Index {
        Index {
            consent_exempt: registries,
            ..Index::default()
        }
    }

    /// The current snapshot, or `None` before the first load.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// Changes whenever a newer snapshot is swapped in (its value is the version).
    pub fn versions(&self) -> tokio::sync::watch::Receiver<i64> {
        self.published.0.subscribe()
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
