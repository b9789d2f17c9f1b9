//! Consents and policies in the past (migration 0061): each consent's and policy's state
//! is recorded by data version, so the policy a call was under at a version is the last
//! state of its campaign's policy (else its client's) at or before it, and a consent
//! counted at an instant when the version in force knew it, had not withdrawn it, and the
//! instant fell within its validity, to the second as `/check` counts it
//! (`index::counts_at`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::dnc::{actor, Actor};
use super::event::{Event, TimelineEvent};
use crate::domain::{Purpose, Scope};
use crate::index::counts_at;
use crate::store::rules_history::{ConsentRow, ConsentStateRow, PolicyStateRow};

/// The policy a call was under at some version.
#[derive(Debug, Serialize, Clone, ToSchema)]
pub struct PolicyAt {
    pub policy_id: i64,
    pub client: String,
    /// `null` for the client's own policy.
    pub campaign: Option<String>,
    pub consent_required: bool,
    pub purpose: String,
    /// The version that set it that way, and who did.
    pub since_version: i64,
    pub set_by: Option<Actor>,
}

/// The policy `call` was under at `version`: its campaign's (if it had one in force),
/// else its client's, else none; always none without a client. `states` are the client's
/// policies' states by version.
pub fn policy_at(states: &[PolicyStateRow], version: i64, call: &Scope) -> Option<PolicyAt> {
    let client = call.client_key()?;
    let in_force = |campaign: Option<&str>| {
        states
            .iter()
            .filter(|s| {
                s.version <= version
                    && s.client_key == client
                    && s.campaign_key.as_deref() == campaign
            })
            .max_by_key(|s| s.version)
            .filter(|s| !s.removed)
    };
    let state = call
        .campaign_key()
        .and_then(|k| in_force(Some(k)))
        .or_else(|| in_force(None))?;
    Some(PolicyAt {
        policy_id: state.policy_id,
        client: state.client.clone(),
        campaign: state.campaign.clone(),
        consent_required: state.consent_required,
        purpose: state.purpose.clone(),
        since_version: state.version,
        set_by: actor(state.changed_by, &state.changed_by_name),
    })
}

/// The policies' changes, as timeline events; `floor` stands for the commit time of a
/// version recorded before history began.
pub fn policy_events(states: &[PolicyStateRow], floor: DateTime<Utc>) -> Vec<TimelineEvent> {
    states
        .iter()
        .map(|s| {
            let by = actor(s.changed_by, &s.changed_by_name);
            let event = if s.removed {
                Event::PolicyRemoved {
                    policy_id: s.policy_id,
                    client: s.client.clone(),
                    campaign: s.campaign.clone(),
                    by,
                    snapshot_version: s.version,
                }
            } else {
                Event::PolicySet {
                    policy_id: s.policy_id,
                    client: s.client.clone(),
                    campaign: s.campaign.clone(),
                    consent_required: s.consent_required,
                    purpose: s.purpose.clone(),
                    by,
                    snapshot_version: s.version,
                }
            };
            TimelineEvent {
                at: s.committed_at.unwrap_or(floor),
                event,
            }
        })
        .collect()
}

/// A consent of the number as it stood at some version.
#[derive(Debug, Serialize, Clone, ToSchema)]
pub struct ConsentAt {
    pub consent_id: i64,
    pub client: String,
    pub purpose: String,
    pub evidence: String,
    pub source: String,
    pub given_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub recorded_by: Option<Actor>,
    /// Withdrawn by then: who withdrew it and why.
    pub withdrawn: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawal_reason: Option<String>,
    /// Whether it counted at that instant (known, not withdrawn, given and not expired).
    pub counted: bool,
    #[serde(skip)]
    pub client_key: String,
}

/// One consent and its states, oldest first.
pub struct ConsentHistory {
    pub consent: ConsentRow,
    pub states: Vec<ConsentStateRow>,
}

impl ConsentHistory {
    /// Groups `states` (ordered by consent and version) under their consents.
    pub fn group(consents: Vec<ConsentRow>, states: Vec<ConsentStateRow>) -> Vec<ConsentHistory> {
        let mut out: Vec<ConsentHistory> = consents
            .into_iter()
            .map(|consent| ConsentHistory {
                consent,
                states: Vec::new(),
            })
            .collect();
        for state in states {
            if let Some(h) = out.iter_mut().find(|h| h.consent.id == state.consent_id) {
                h.states.push(state);
            }
        }
        out
    }

    /// The consent at data version `version` and instant `at`; `None` when it was not
    /// recorded yet.
    pub fn at(&self, version: i64, at: DateTime<Utc>) -> Option<ConsentAt> {
        let state = self.states.iter().rev().find(|s| s.version <= version)?;
        let c = &self.consent;
        Some(ConsentAt {
            consent_id: c.id,
            client: c.client.clone(),
            purpose: c.purpose.clone(),
            evidence: c.evidence.clone(),
            source: c.source.clone(),
            given_at: c.given_at,
            expires_at: c.expires_at,
            recorded_by: actor(c.created_by, &c.created_by_name),
            withdrawn: state.withdrawn,
            withdrawn_by: state
                .withdrawn
                .then(|| actor(c.withdrawn_by, &c.withdrawn_by_name))
                .flatten(),
            withdrawal_reason: state
                .withdrawn
                .then(|| c.withdrawal_reason.clone())
                .flatten(),
            counted: !state.withdrawn && counts_at(c.given_at, c.expires_at, at),
            client_key: c.client_key.clone(),
        })
    }

    /// The consent's events: given (with when it was recorded), withdrawn, expired;
    /// `now` bounds expiries.
    pub fn events(&self, now: DateTime<Utc>) -> Vec<TimelineEvent> {
        let c = &self.consent;
        let first = self.states.first();
        let mut out = vec![TimelineEvent {
            at: c.given_at,
            event: Event::ConsentGiven {
                consent_id: c.id,
                client: c.client.clone(),
                purpose: c.purpose.clone(),
                evidence: c.evidence.clone(),
                source: c.source.clone(),
                expires_at: c.expires_at,
                recorded_at: first.and_then(|s| s.committed_at).unwrap_or(c.created_at),
                by: actor(c.created_by, &c.created_by_name),
                snapshot_version: first.map(|s| s.version),
            },
        }];
        let withdrawal = self.states.iter().find(|s| s.withdrawn);
        let withdrawn_at =
            withdrawal.map(|s| s.committed_at.or(c.withdrawn_at).unwrap_or(c.created_at));
        if let (Some(s), Some(at)) = (withdrawal, withdrawn_at) {
            out.push(TimelineEvent {
                at,
                event: Event::ConsentWithdrawn {
                    consent_id: c.id,
                    reason: c.withdrawal_reason.clone(),
                    by: actor(c.withdrawn_by, &c.withdrawn_by_name),
                    snapshot_version: s.version,
                },
            });
        }
        if let Some(t) = c.expires_at {
            if t <= now && withdrawn_at.is_none_or(|w| t < w) {
                out.push(TimelineEvent {
                    at: t,
                    event: Event::ConsentExpired { consent_id: c.id },
                });
            }
        }
        out
    }
}

/// The consent a check at that instant rested on: the newest that counted, of the call's
/// client, for `purpose` (the policy's, else telephone marketing).
pub fn consent_used<'c>(
    consents: &'c [ConsentAt],
    call: &Scope,
    policy: Option<&PolicyAt>,
) -> Option<&'c ConsentAt> {
    let client = call.client_key()?;
    let purpose = policy.map_or(Purpose::DEFAULT, |p| p.purpose.as_str());
    consents
        .iter()
        .filter(|c| c.counted && c.client_key == client && c.purpose == purpose)
        .max_by_key(|c| c.consent_id)
}
