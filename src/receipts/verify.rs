//! Checking a receipt, as `POST /v1/receipts/verify` does (a third party does the same
//! with openssl or a few lines of Python, see README "Decision receipts"): the signed
//! bytes (format 2: the answer up to its receipt, and `}`; format 1: the claims) and the
//! path lead to a root; the signed statement names that root, the format and the key;
//! the key's signature over the statement's exact bytes holds; the key was in use when it
//! signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use serde_json::Value;

use super::{merkle, Carried, Submitted, FORMAT, FORMAT_1, MEMBER};
use crate::store::receipt_keys::KeyRow;

/// A key counts as in use (no end to its validity yet) while it signed this recently.
const IN_USE: i64 = 600;
/// Its use is recorded at most once a minute, so it may have signed up to a minute
/// after `last_used_at`.
const RECORDING_GRANULARITY: i64 = 60;
/// Clocks of the hosts involved may differ this much.
const CLOCK_SLACK: i64 = 300;

/// A published public key and the period it signed in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublishedKey {
    /// The key id receipts name (`key_id`).
    pub id: String,
    /// `ed25519`.
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
    /// The signed answer (format 2) or claims (format 1), parsed.
    pub says: Value,
    pub signed: Value,
}

/// Splits a format-2 answer, as received, into the bytes its receipt signs (everything
/// before its last `,"receipt":`, and `}`) and the receipt's JSON text, which must end
/// the answer: `Err` when the body is not an answer tarcza wrote so.
pub fn split(raw: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let cut = raw
        .windows(MEMBER.len())
        .rposition(|w| w == MEMBER)
        .filter(|_| raw.last() == Some(&b'}'))
        .ok_or(
            "the answer is not as tarcza wrote it: it must end with its \",\"receipt\":{…}}\" \
             (send the body exactly as it was received)",
        )?;
    let mut signed = Vec::with_capacity(cut + 1);
    signed.extend_from_slice(&raw[..cut]);
    signed.push(b'}');
    Ok((signed, &raw[cut + MEMBER.len()..raw.len() - 1]))
}

/// Checks a format-2 `receipt` over `answer` (the bytes it signs, from [`split`]) against
/// `key` (the published key its `key_id` names, if any); `Err` says what is wrong.
pub fn verify_answer(
    answer: &[u8],
    receipt: &Carried,
    key: Option<&PublishedKey>,
) -> Result<Verified, String> {
    if receipt.v != FORMAT {
        return Err(format!("receipt format {} is not known", receipt.v));
    }
    let root = merkle::root_of_packed(receipt.leaf.of(answer), &receipt.path).ok_or(
        "the path is malformed: base64 of 33-byte steps, each a side byte (0 or 1) and a hash",
    )?;
    let signed = statement(
        FORMAT,
        &receipt.key_id,
        &receipt.signed,
        &receipt.signature,
        &root,
        "the answer and the path do not lead to the signed root: the answer or the path \
         were altered",
        key,
    )?;
    let says = serde_json::from_slice(answer).map_err(|_| "the answer is not JSON".to_string())?;
    Ok(Verified { says, signed })
}

/// Checks a format-1 `receipt` (issued before format 2) against `key` (the published key
/// its `key_id` names, if any); `Err` says what is wrong.
pub fn verify(receipt: &Submitted, key: Option<&PublishedKey>) -> Result<Verified, String> {
    let root = merkle::root_of(receipt.claims.as_bytes(), &receipt.path)
        .ok_or("the path is malformed: each step is L: or R: and 32 bytes in base64")?;
    let signed = statement(
        FORMAT_1,
        &receipt.key_id,
        &receipt.signed,
        &receipt.signature,
        &root,
        "the claims and the path do not lead to the signed root: the claims or the path \
         were altered",
        key,
    )?;
    let says =
        serde_json::from_str(&receipt.claims).map_err(|_| "the claims are not JSON".to_string())?;
    Ok(Verified { says, signed })
}

/// Checks the signed statement `text`: of format `v`, naming `key_id` and `root`, signed
/// by `key` within its period of use. Returns it parsed.
fn statement(
    v: u8,
    key_id: &str,
    text: &str,
    signature: &str,
    root: &merkle::Hash,
    altered: &str,
    key: Option<&PublishedKey>,
) -> Result<Value, String> {
    let signed: Value =
        serde_json::from_str(text).map_err(|_| "the signed statement is not JSON".to_string())?;
    if signed["v"] != v {
        return Err(format!(
            "the signed statement is of format {}, the receipt of format {v}",
            signed["v"]
        ));
    }
    if signed["key_id"] != key_id {
        return Err("the signed statement names another key".into());
    }
    if signed["merkle_root"] != crate::domain::hash::hex(root).as_str() {
        return Err(altered.into());
    }
    let key = key.ok_or_else(|| {
        format!("key {key_id:?} is not one of tarcza's receipt keys (GET /v1/receipts/keys)")
    })?;
    let signature = BASE64
        .decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the signature is not 64 bytes of base64")?;
    let public = VerifyingKey::from_bytes(&key.raw).map_err(|_| "the key is malformed")?;
    public
        .verify_strict(text.as_bytes(), &signature)
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
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Signer as _;

    use super::*;
    use crate::receipts::{Leaf, ReceiptKey};

    fn published(key: &ReceiptKey) -> PublishedKey {
        let now = Utc::now();
        let row = KeyRow {
            id: key.id.clone(),
            algorithm: "Ed25519".into(),
            public_key: key.public().to_vec(),
            first_used_at: now - Duration::days(1),
            last_used_at: now,
        };
        PublishedKey::from_row(&row, now).unwrap()
    }

    /// A format-1 receipt as tarcza issued them before format 2: claims as a string, a
    /// path of `L:`/`R:` steps, a statement of `"v":1`.
    fn format_1(key: &ReceiptKey, claims: &str) -> Submitted {
        let levels = merkle::levels(vec![
            merkle::leaf(b"another answer"),
            merkle::leaf(claims.as_bytes()),
        ]);
        let root = crate::domain::hash::hex(&levels[1][0]);
        let signed = format!(
            r#"{{"v":1,"key_id":"{}","merkle_root":"{root}","signed_at":"{}"}}"#,
            key.id,
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        );
        Submitted {
            key_id: key.id.clone(),
            claims: claims.into(),
            path: merkle::path(&levels, 1),
            signature: BASE64.encode(key.signing.sign(signed.as_bytes()).to_bytes()),
            signed,
        }
    }

    #[test]
    fn receipts_of_format_1_still_verify_and_their_tampering_is_refused() {
        let key = ReceiptKey::from_seed(&[7; 32]);
        let claims = r#"{"kind":"check","number":"+48601234567","allowed":false}"#;
        let receipt = format_1(&key, claims);
        let v = verify(&receipt, Some(&published(&key))).unwrap();
        assert_eq!(v.says["allowed"], false);
        assert_eq!(v.signed["v"], 1);
        let forged = Submitted {
            claims: claims.replace("false", "true"),
            ..receipt.clone()
        };
        let e = verify(&forged, Some(&published(&key))).unwrap_err();
        assert!(e.contains("altered"), "{e}");
        let other = ReceiptKey::from_seed(&[8; 32]);
        let e = verify(
            &receipt,
            Some(&PublishedKey {
                id: key.id.clone(),
                ..published(&other)
            }),
        );
        assert!(e.unwrap_err().contains("signature"));
        // A format-1 statement does not pass for a format-2 receipt over the same bytes.
        let carried = Carried {
            v: 2,
            key_id: receipt.key_id.clone(),
            leaf: Leaf::Sha256,
            path: String::new(),
            signed: receipt.signed.clone(),
            signature: receipt.signature.clone(),
        };
        let e = verify_answer(claims.as_bytes(), &carried, Some(&published(&key))).unwrap_err();
        assert!(e.contains("format 1"), "{e}");
    }

    #[test]
    fn an_answer_splits_at_its_receipt_and_nothing_may_follow_it() {
        let (signed, receipt) = split(br#"{"allowed":false,"receipt":{"v":2}}"#).unwrap();
        assert_eq!(signed, br#"{"allowed":false}"#);
        assert_eq!(receipt, br#"{"v":2}"#);
        // Members after the receipt would be read by a JSON parser but not signed.
        let (_, receipt) = split(br#"{"allowed":false,"receipt":{"v":2},"allowed":true}"#).unwrap();
        assert!(serde_json::from_slice::<Carried>(receipt).is_err());
        assert!(split(br#"{"allowed":false, "receipt": {"v":2}}"#).is_err());
        assert!(split(br#"{"allowed":false,"receipt":{"v":2}} "#).is_err());
    }
}
