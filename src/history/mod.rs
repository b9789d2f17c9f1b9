//! Point-in-time answers: what `/v1/check` would have answered for a number at an instant,
//! and why; and a number's whole timeline.
//!
//! Every answer is decided on one data version, the snapshot version `/check` reports.
//! History finds the version in force at the instant (the last one committed by then,
//! `data_version_log`), each do-not-call entry's state at that version, and each
//! registry's generation then and whether the number was in it (see `registry`); the
//! verdict comes from the same rule `/check` applies, evaluated at the instant (so an
//! entry that expired before it does not block). For a call with a client it replays
//! the policy in force then and the number's consents as the version knew them (see
//! `rules`), so a `no_consent` block and a registry exempted by a consent come back as
//! `/check` gave them. It does not replay availability (a process whose data was stale
//! then answered 503, history answers from the data), nor configuration: whether a
//! registry lets a consent exempt is today's setting.
//!
//! Like `import/`, this layer takes plain inputs (the pool, the index, a number, a scope,
//! an instant) and returns its own error; `http/` turns both into answers.

pub mod dnc;
pub mod event;
pub mod registry;
pub mod rules;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{PhoneNumber, Prefix, Scope};
use crate::index::{counts_until, ConsentUse, Exemption, Index, Reason, Verdict};
use crate::store::history as store;
use crate::store::rules_history;
use crate::store::snapshot as reads;
use dnc::{EntryAt, EntryHistory};
use event::{Event, TimelineEvent};
use registry::{Membership, Walk};
use rules::{ConsentAt, ConsentHistory, PolicyAt};

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
    /// The policy the call was under then (none without a client).
    pub policy: Option<PolicyAt>,
    /// The number's consents of the call's client known then, as they stood.
    pub consents: Vec<ConsentAt>,
    pub history_from: DateTime<Utc>,
    registry_names: Vec<Arc<str>>,
    /// Per registry: whether a consent exempts from it (today's setting).
    registry_exempts: Vec<bool>,
    call: Scope,
}

impl PointInTime {
    /// What `/check` would have answered, in its order: the policy's `no_consent`, the
    /// do-not-call entries, then registries by name (or their exemption by a consent).
    pub fn verdict(&self) -> Verdict<'_> {
        let mut verdict = Verdict::default();
        let policy = self.policy.as_ref();
        let consent = rules::consent_used(&self.consents, &self.call, policy).map(|c| ConsentUse {
            consent_id: c.consent_id,
            purpose: &c.purpose,
            expires_at: counts_until(c.expires_at),
        });
        if let Some(p) = policy.filter(|p| p.consent_required) {
            match consent {
                Some(c) => verdict.consent = Some(c),
                None => verdict.reasons.push(Reason::Consent {
                    code: "no_consent",
                    client: &p.client,
                    campaign: p.campaign.as_deref(),
                    purpose: &p.purpose,
                }),
            }
        }
        // The number's own entries, then range blocks shortest prefix first, as `/check`.
        let mut blocking: Vec<&EntryAt> = self.dnc.iter().filter(|e| e.blocking).collect();
        blocking.sort_by_key(|e| (e.prefix.map(Prefix::digits), e.entry_id));
        verdict
            .reasons
            .extend(blocking.into_iter().map(|e| e.block.reason(e.prefix)));
        let registries = self.registries.iter().zip(&self.registry_names);
        for ((m, name), exempts) in registries.zip(&self.registry_exempts) {
            if !m.member {
                continue;
            }
            match consent.filter(|_| *exempts) {
                Some(by) => verdict.exemptions.push(Exemption {
                    source: "registry",
                    registry: name,
                    exempted_by: by,
                }),
                None => verdict.reasons.push(Reason::Registry { registry: name }),
            }
        }
        verdict
    }

    /// What the answer applies as it is today rather than as it was: whether a registry
    /// lets a consent exempt (`consent_exempts`) is configuration, not data, so for a
    /// call with a client, while some registry has it on, history applies today's.
    pub fn not_replayed(&self) -> Vec<&'static str> {
        if self.call.client().is_some() && self.registry_exempts.contains(&true) {
            vec!["consent_exempts"]
        } else {
            Vec::new()
        }
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
    let mut registry_exempts = Vec::new();
    for r in store::registries(&mut tx).await? {
        let live = snapshot.registry(&r.name).map(|r| &**r);
        let walk = Walk::read(&mut tx, r.id, &r.name, live, number).await?;
        registries.push(walk.at(version)?);
        registry_names.push(Arc::from(r.name.as_str()));
        registry_exempts.push(live.is_some_and(|r| r.consent_exempts));
    }

    // A call without a client is under no policy and rests on no consent.
    let (policy, consents) = match call.client_key() {
        None => (None, Vec::new()),
        Some(client) => {
            let states = rules_history::policy_states(&mut tx, Some(client)).await?;
            let policy = rules::policy_at(&states, version, call);
            let rows = rules_history::consents(&mut tx, number.digits()).await?;
            let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
            let states = rules_history::consent_states(&mut tx, &ids).await?;
            let consents = ConsentHistory::group(rows, states)
                .iter()
                .filter_map(|h| h.at(version, at))
                .filter(|c| c.client_key == client)
                .collect();
            (policy, consents)
        }
    };
    tx.commit().await?;
    Ok(PointInTime {
        number,
        at,
        snapshot_version: version,
        version_committed_at: committed_at,
        dnc,
        registries,
        policy,
        consents,
        history_from: floor,
        registry_names,
        registry_exempts,
        call: call.clone(),
    })
}

/// A number's timeline: every recorded event of its do-not-call entries, registry
/// memberships and consents, and every policy change (a policy concerns every number its
/// client calls), oldest first.
pub struct Timeline {
    pub number: PhoneNumber,
    pub history_from: DateTime<Utc>,
    pub events: Vec<TimelineEvent>,
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
    let mut events: Vec<TimelineEvent> = EntryHistory::group(entries, states)
        .iter()
        .flat_map(|h| h.events(now))
        .collect();
    for r in store::registries(&mut tx).await? {
        let live = snapshot.registry(&r.name).map(|r| &**r);
        let walk = Walk::read(&mut tx, r.id, &r.name, live, number).await?;
        for c in walk.changes()? {
            let (registry, import_id) = (r.name.clone(), c.generation.import_id);
            events.push(TimelineEvent {
                at: c.generation.live_from.unwrap_or(floor),
                event: if c.added {
                    Event::RegistryAdded {
                        registry,
                        import_id,
                    }
                } else {
                    Event::RegistryRemoved {
                        registry,
                        import_id,
                    }
                },
            });
        }
    }
    let rows = rules_history::consents(&mut tx, number.digits()).await?;
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    let states = rules_history::consent_states(&mut tx, &ids).await?;
    for h in ConsentHistory::group(rows, states) {
        events.extend(h.events(now));
    }
    let policies = rules_history::policy_states(&mut tx, None).await?;
    events.extend(rules::policy_events(&policies, floor));
    tx.commit().await?;
    events.sort_by_key(|e| e.at);
    Ok(Timeline {
        number,
        history_from: floor,
        events,
    })
}
