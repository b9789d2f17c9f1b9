//! The events of a number's timeline, as `GET /v1/history` lists them without `at`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::dnc::Actor;
use crate::domain::Prefix;

/// One event of a number's timeline: what happened (`event`), when (`at`), and its
/// details.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HistoryEvent)]
pub struct TimelineEvent {
    /// When it happened: the commit of the data version that made it (for what was
    /// recorded before history began, the time the record itself gives).
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened, by its `event` name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "event")]
#[schema(as = HistoryEventKind)]
pub enum Event {
    /// A do-not-call entry that concerns the number was made.
    #[serde(rename = "dnc.added")]
    DncAdded {
        entry_id: i64,
        /// Set for a range block: the prefix of the number it blocks.
        #[schema(value_type = Option<String>, example = "+4870")]
        prefix: Option<Prefix>,
        /// `global`, `client` or `campaign`.
        #[schema(example = "global")]
        scope: &'static str,
        client: Option<String>,
        campaign: Option<String>,
        reason: Option<String>,
        source: Option<String>,
        expires_at: Option<DateTime<Utc>>,
        by: Option<Actor>,
        /// The data version that made it (`null`: made before history began).
        snapshot_version: Option<i64>,
    },
    /// The entry's block was made to last longer.
    #[serde(rename = "dnc.extended")]
    DncExtended {
        entry_id: i64,
        expires_at: Option<DateTime<Utc>>,
        previous_expires_at: Option<DateTime<Utc>>,
        snapshot_version: i64,
    },
    /// The entry stopped blocking: its expiry came.
    #[serde(rename = "dnc.expired")]
    DncExpired { entry_id: i64 },
    /// The entry was removed.
    #[serde(rename = "dnc.removed")]
    DncRemoved {
        entry_id: i64,
        reason: Option<String>,
        by: Option<Actor>,
        /// The data version that removed it (`null`: removed before history began).
        snapshot_version: Option<i64>,
    },
    /// The number came into a registry's data with an import.
    #[serde(rename = "registry.added")]
    RegistryAdded {
        #[schema(example = "robinson")]
        registry: String,
        import_id: i64,
    },
    /// The number left a registry's data with an import.
    #[serde(rename = "registry.removed")]
    RegistryRemoved {
        #[schema(example = "robinson")]
        registry: String,
        import_id: i64,
    },
    /// A consent of the number was given (`at`); `recorded_at` is when tarcza learnt it.
    #[serde(rename = "consent.given")]
    ConsentGiven {
        consent_id: i64,
        client: String,
        #[schema(example = "marketing")]
        purpose: String,
        evidence: String,
        source: String,
        expires_at: Option<DateTime<Utc>>,
        recorded_at: DateTime<Utc>,
        by: Option<Actor>,
        /// The data version that recorded it (`null`: recorded before history began).
        snapshot_version: Option<i64>,
    },
    /// The consent was withdrawn.
    #[serde(rename = "consent.withdrawn")]
    ConsentWithdrawn {
        consent_id: i64,
        reason: Option<String>,
        by: Option<Actor>,
        snapshot_version: i64,
    },
    /// The consent's validity ended.
    #[serde(rename = "consent.expired")]
    ConsentExpired { consent_id: i64 },
    /// A policy was set (a policy concerns every number its client calls).
    #[serde(rename = "policy.set")]
    PolicySet {
        policy_id: i64,
        client: String,
        /// `null` for the client's own policy.
        campaign: Option<String>,
        consent_required: bool,
        #[schema(example = "marketing")]
        purpose: String,
        by: Option<Actor>,
        snapshot_version: i64,
    },
    /// A policy was removed.
    #[serde(rename = "policy.removed")]
    PolicyRemoved {
        policy_id: i64,
        client: String,
        campaign: Option<String>,
        by: Option<Actor>,
        snapshot_version: i64,
    },
}
