//! Do-not-call entries in the past: each entry's state (active, expiry) is recorded by
//! data version (migration 0020), so an entry at a version is its last state at or
//! before it, and whether it blocked at an instant is decided by the same rule `/check`
//! applies (`DncBlock::blocks`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::event::{Event, TimelineEvent};
use crate::domain::{Prefix, Scope};
use crate::index::DncBlock;
use crate::store::history::{EntryRow, StateRow};

/// Who acted, by API key.
#[derive(Debug, Serialize, Clone, ToSchema)]
#[schema(as = HistoryActor)]
pub struct Actor {
    pub id: i64,
    pub name: Option<String>,
}

pub(super) fn actor(id: Option<i64>, name: &Option<String>) -> Option<Actor> {
    id.map(|id| Actor {
        id,
        name: name.clone(),
    })
}

/// An entry as it stood at some version.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryAt {
    pub entry_id: i64,
    /// Set for a range block: the prefix of the number it blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "+4870")]
    pub prefix: Option<Prefix>,
    /// `global`, `client` or `campaign`.
    #[schema(example = "global")]
    pub scope: &'static str,
    pub client: Option<String>,
    pub campaign: Option<String>,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Actor>,
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether its scope covers the call asked about.
    pub applies: bool,
    /// Whether it blocked the call at that instant (active, not expired, applies).
    pub blocking: bool,
    /// For an entry removed by then: who removed it and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_reason: Option<String>,
    #[serde(skip)]
    pub block: DncBlock,
}

/// One entry and its states, oldest first.
pub struct EntryHistory {
    pub entry: EntryRow,
    pub states: Vec<StateRow>,
}

impl EntryHistory {
    /// Groups `states` (ordered by entry and version) under their entries.
    pub fn group(entries: Vec<EntryRow>, states: Vec<StateRow>) -> Vec<EntryHistory> {
        let mut out: Vec<EntryHistory> = entries
            .into_iter()
            .map(|entry| EntryHistory {
                entry,
                states: Vec::new(),
            })
            .collect();
        for state in states {
            if let Some(h) = out.iter_mut().find(|h| h.entry.id == state.entry_id) {
                h.states.push(state);
            }
        }
        out
    }

    /// The prefix a range block blocks; `None` for a number's own entry.
    pub fn prefix(&self) -> Option<Prefix> {
        let e = &self.entry;
        e.prefix
            .then(|| Prefix::from_digits(e.number as u64))
            .flatten()
    }

    fn scope(&self) -> Scope {
        Scope::from_parts(self.entry.client.as_deref(), self.entry.campaign.as_deref())
            .unwrap_or(Scope::Global)
    }

    /// The entry at data version `version` and instant `at`, for a call for `call`;
    /// `None` when it did not exist yet.
    pub fn at(&self, version: i64, at: DateTime<Utc>, call: &Scope) -> Option<EntryAt> {
        let state = self.states.iter().rev().find(|s| s.version <= version)?;
        let e = &self.entry;
        let block = DncBlock {
            id: e.id,
            scope: self.scope(),
            reason: e.reason.as_deref().map(Into::into),
            expires_at: state.expires_at,
        };
        let applies = block.scope.applies_to(call);
        let removed = !state.active;
        Some(EntryAt {
            entry_id: e.id,
            prefix: self.prefix(),
            scope: block.scope.kind(),
            client: e.client.clone(),
            campaign: e.campaign.clone(),
            reason: e.reason.clone(),
            source: e.source.clone(),
            created_at: e.created_at,
            created_by: actor(e.created_by, &e.created_by_name),
            active: state.active,
            expires_at: state.expires_at,
            applies,
            blocking: state.active && block.blocks(call, at),
            removed_by: removed
                .then(|| actor(e.deactivated_by, &e.deactivated_by_name))
                .flatten(),
            removal_reason: removed.then(|| e.deactivation_reason.clone()).flatten(),
            block,
        })
    }

    /// The entry's events: added, extended, expired, removed; `now` bounds expiries.
    pub fn events(&self, now: DateTime<Utc>) -> Vec<TimelineEvent> {
        let e = &self.entry;
        let scope = self.scope();
        let mut out = Vec::new();
        for (i, s) in self.states.iter().enumerate() {
            // States recorded when history began have no commit time of their own.
            let at = s.committed_at.unwrap_or(if s.active {
                e.created_at
            } else {
                e.deactivated_at.unwrap_or(e.created_at)
            });
            let previous = i.checked_sub(1).map(|p| &self.states[p]);
            match previous {
                None => {
                    let added_at = if s.committed_at.is_some() {
                        at
                    } else {
                        e.created_at
                    };
                    out.push(TimelineEvent {
                        at: added_at,
                        event: Event::DncAdded {
                            entry_id: e.id,
                            prefix: self.prefix(),
                            scope: scope.kind(),
                            client: e.client.clone(),
                            campaign: e.campaign.clone(),
                            reason: e.reason.clone(),
                            source: e.source.clone(),
                            expires_at: s.expires_at,
                            by: actor(e.created_by, &e.created_by_name),
                            snapshot_version: s.committed_at.map(|_| s.version),
                        },
                    });
                    if !s.active {
                        out.push(self.removal(at, s));
                    }
                }
                Some(p) if p.active && !s.active => out.push(self.removal(at, s)),
                Some(p) if s.active && p.expires_at != s.expires_at => out.push(TimelineEvent {
                    at,
                    event: Event::DncExtended {
                        entry_id: e.id,
                        expires_at: s.expires_at,
                        previous_expires_at: p.expires_at,
                        snapshot_version: s.version,
                    },
                }),
                Some(_) => {}
            }
            if s.active {
                let until = self
                    .states
                    .get(i + 1)
                    .and_then(|n| n.committed_at)
                    .unwrap_or(now);
                if let Some(t) = s.expires_at.filter(|t| *t <= until) {
                    out.push(TimelineEvent {
                        at: t,
                        event: Event::DncExpired { entry_id: e.id },
                    });
                }
            }
        }
        out
    }

    fn removal(&self, at: DateTime<Utc>, s: &StateRow) -> TimelineEvent {
        let e = &self.entry;
        TimelineEvent {
            at,
            event: Event::DncRemoved {
                entry_id: e.id,
                reason: e.deactivation_reason.clone(),
                by: actor(e.deactivated_by, &e.deactivated_by_name),
                snapshot_version: s.committed_at.map(|_| s.version),
            },
        }
    }
}
