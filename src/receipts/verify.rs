//! Checking a receipt, as `POST /v1/receipts/verify` does (a third party does the same
//! with openssl or a few lines of Python, see README "Decision receipts"): the claims and
//! the path lead to a root; the signed statement names that root and the key; the key's
//! signature over the statement's exact bytes holds; the key was in use when it signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use serde_json::Value;

use super::{merkle, Submitted, FORMAT};
use crate::store::receipt_keys::KeyRow;

/// A key counts as in use (no end to its validity yet) while it signed this recently.
const IN_USE: i64 = 600;
/// Its use is recorded at most once a minute, so it may have signed up to a minute
/// after `last_used_at`.
const RECORDING_GRANULARITY: i64 = 60;
/// Clocks of the hosts involved may differ this much.
const CLOCK_SLACK: i64 = 300;

/// A published public key and the period it signed in.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedKey {
    pub id: String,
    pub algorithm: String,
    /// The raw 32-byte key, base64.
    pub public_key: String,
    /// The same as SubjectPublicKeyInfo PEM, for `openssl pkeyutl -verify -pubin`.
    pub public_key_pem: String,
    pub valid_from: DateTime<Utc>,
    /// `None` while the key is in use.
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(skip)]
    raw: [u8; 32],
}

impl PublishedKey {
    pub fn from_row(row: &KeyRow, now: DateTime<Utc>) -> Option<PublishedKey> {
        let raw = <[u8; 32]>::try_from(row.public_key.as_slice()).ok()?;
        let in_use = now - row.last_used_at < Duration::seconds(IN_USE);
        Some(PublishedKey {
            id: row.id.clone(),
            algorithm: row.algorithm.clone(),
            public_key: BASE64.encode(raw),
            public_key_pem: super::keys::public_pem(&raw),
            valid_from: row.first_used_at,
            valid_until: (!in_use)
                .then(|| row.last_used_at + Duration::seconds(RECORDING_GRANULARITY)),
            raw,
        })
    }
}

/// What a receipt that checks out says.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub claims: Value,
    pub signed: Value,
}

/// Checks `receipt` against `key` (the published key its `key_id` names, if any);
/// `Err` says what is wrong.
pub fn verify(receipt: &Submitted, key: Option<&PublishedKey>) -> Result<Verified, String> {
    let root = merkle::root_of(receipt.claims.as_bytes(), &receipt.path)
        .ok_or("the path is malformed: each step is L: or R: and 32 bytes in base64")?;
    let signed: Value = serde_json::from_str(&receipt.signed)
        .map_err(|_| "the signed statement is not JSON".to_string())?;
    if signed["v"] != FORMAT {
        return Err(format!(
            "receipt format {} is not known (expected {FORMAT})",
            signed["v"]
        ));
    }
    if signed["key_id"] != receipt.key_id.as_str() {
        return Err("the signed statement names another key".into());
    }
    if signed["merkle_root"] != crate::domain::hash::hex(&root).as_str() {
        return Err(
            "the claims and the path do not lead to the signed root: the claims or the path \
             were altered"
                .into(),
        );
    }
    let key = key.ok_or_else(|| {
        format!(
            "key {:?} is not one of tarcza's receipt keys (GET /v1/receipts/keys)",
            receipt.key_id
        )
    })?;
    let signature = BASE64
        .decode(&receipt.signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the signature is not 64 bytes of base64")?;
    let public = VerifyingKey::from_bytes(&key.raw).map_err(|_| "the key is malformed")?;
    public
        .verify_strict(receipt.signed.as_bytes(), &signature)
        .map_err(|_| "the signature does not verify: the signed statement was altered or another key signed it")?;
    let signed_at: DateTime<Utc> = signed["signed_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or("the signed statement has no signed_at time")?;
    let slack = Duration::seconds(CLOCK_SLACK);
    if signed_at < key.valid_from - slack || key.valid_until.is_some_and(|u| signed_at > u + slack)
    {
        return Err(format!(
            "signed at {signed_at}, outside the period key {} was in use ({} to {})",
            key.id,
            key.valid_from,
            key.valid_until.map_or("now".into(), |u| u.to_string())
        ));
    }
    let claims: Value =
        serde_json::from_str(&receipt.claims).map_err(|_| "the claims are not JSON".to_string())?;
    Ok(Verified { claims, signed })
}
