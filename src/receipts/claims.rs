//! What a receipt says: the claims of one answer, serialized once to the exact bytes that
//! are hashed into the signed tree and carried in the receipt as a string, so a verifier
//! never has to re-create them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::domain::PhoneNumber;
use crate::index::{ConsentUse, Exemption, Reason, RegistryIndex, Verdict};

/// The claims of a `GET /v1/check` answer.
#[derive(Serialize)]
pub struct CheckClaims<'a> {
    pub kind: &'static str,
    pub number: PhoneNumber,
    /// The scope asked for, as the call named it (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'a str>,
    pub allowed: bool,
    pub reasons: &'a [Reason<'a>],
    /// The whole verdict: registry matches a consent exempted, and the consent a policy
    /// was met by (absent when none).
    #[serde(skip_serializing_if = "no_exemptions")]
    pub exemptions: &'a [Exemption<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<&'a ConsentUse<'a>>,
    /// The data it was decided on: the snapshot version and each registry's generation.
    pub snapshot_version: i64,
    pub registries: Generations<'a>,
    pub checked_at: DateTime<Utc>,
}

fn no_exemptions(e: &&[Exemption<'_>]) -> bool {
    e.is_empty()
}

impl<'a> CheckClaims<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        number: PhoneNumber,
        client: Option<&'a str>,
        campaign: Option<&'a str>,
        verdict: &'a Verdict<'a>,
        snapshot_version: i64,
        registries: &'a [Arc<RegistryIndex>],
        checked_at: DateTime<Utc>,
    ) -> Self {
        CheckClaims {
            kind: "check",
            number,
            client,
            campaign,
            allowed: verdict.allowed(),
            reasons: &verdict.reasons,
            exemptions: &verdict.exemptions,
            consent: verdict.consent.as_ref(),
            snapshot_version,
            registries: Generations(registries),
            checked_at,
        }
    }
}

/// The claims of a `POST /v1/check` answer: its `results` array, as the exact bytes sent,
/// is bound by its SHA-256.
#[derive(Serialize)]
pub struct BatchClaims<'a> {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'a str>,
    pub count: usize,
    pub results_sha256: String,
    pub snapshot_version: i64,
    pub registries: Generations<'a>,
    pub checked_at: DateTime<Utc>,
}

impl<'a> BatchClaims<'a> {
    pub fn new(
        client: Option<&'a str>,
        campaign: Option<&'a str>,
        count: usize,
        results: &[u8],
        snapshot_version: i64,
        registries: &'a [Arc<RegistryIndex>],
        checked_at: DateTime<Utc>,
    ) -> Self {
        use sha2::{Digest, Sha256};
        BatchClaims {
            kind: "batch",
            client,
            campaign,
            count,
            results_sha256: crate::domain::hash::hex(&Sha256::digest(results)),
            snapshot_version,
            registries: Generations(registries),
            checked_at,
        }
    }
}

/// Each registry's live generation (the import that wrote it; null without data), by name.
pub struct Generations<'a>(pub &'a [Arc<RegistryIndex>]);

impl Serialize for Generations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for r in self.0 {
            map.serialize_entry(&*r.name, &r.generation)?;
        }
        map.end()
    }
}
