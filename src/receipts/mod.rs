//! Decision receipts: every `/v1/check` answer carries a receipt that a third party can
//! verify without tarcza's secret, binding the number, the scope asked for, the verdict,
//! the reasons, the data it was decided on and the time (README "Decision receipts").
//!
//! A receipt holds the answer's claims as the exact bytes that were hashed (`claims`, a
//! JSON string), the Merkle path from them to the root of the batch they were signed in
//! (`path`), the exact bytes of the signed statement naming that root and the key
//! (`signed`), and the Ed25519 signature over it (`signature`, base64). Signing is shared
//! by concurrent answers (`signer`); keys are in `keys`; `verify` checks a receipt.
//!
//! Below `http/`: plain inputs (claims, keys, the pool) and its own error.

pub mod claims;
pub mod keys;
pub mod merkle;
mod signer;
pub mod verify;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

pub use claims::{BatchClaims, CheckClaims};
pub use keys::ReceiptKey;
use signer::Signer;
pub use verify::{PublishedKey, Verified};

/// The version of the receipt format (in receipts, claims and signed statements).
pub const FORMAT: u8 = 1;

/// A receipt, as it travels in an answer: `{"key_id", "claims", "path", "signed",
/// "signature"}`. It shares its batch's tree and signature with the other answers of
/// the batch and writes its path straight into the answer (no copies: this is on every
/// `/check`).
#[derive(Clone)]
pub struct Receipt {
    key_id: Arc<str>,
    /// The claims: the exact bytes hashed into the signed tree.
    claims: String,
    batch: Arc<SignedBatch>,
    /// The claims' leaf in the batch's tree.
    index: usize,
}

/// The statement of a batch's root, and its signature.
pub struct SignedBatch {
    levels: Vec<Vec<merkle::Hash>>,
    /// The signed statement: the exact bytes the signature is over.
    signed: String,
    /// Base64 of the Ed25519 signature.
    signature: String,
}

impl Serialize for Receipt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut r = s.serialize_struct("Receipt", 5)?;
        r.serialize_field("key_id", &*self.key_id)?;
        r.serialize_field("claims", &self.claims)?;
        r.serialize_field("path", &merkle::Path::new(&self.batch.levels, self.index))?;
        r.serialize_field("signed", &self.batch.signed)?;
        r.serialize_field("signature", &self.batch.signature)?;
        r.end()
    }
}

/// A receipt as submitted for verification (and as an answer carries it).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Receipt)]
pub struct Submitted {
    /// The signing key's id (`GET /v1/receipts/keys`).
    pub key_id: String,
    /// The signed claims: JSON text, hashed exactly as written.
    pub claims: String,
    /// From the claims' leaf to the root: `L:<base64>` / `R:<base64>` siblings.
    pub path: Vec<String>,
    /// The signed statement of the batch's root: the exact bytes the signature is over.
    pub signed: String,
    /// Base64 of the Ed25519 signature.
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt signer stopped before signing this answer")]
    Signer,
    #[error("the claims could not be written: {0}")]
    Claims(#[from] serde_json::Error),
}

/// This process's receipt issuer: on (with its signing key) or off.
#[derive(Clone)]
pub struct Receipts {
    signer: Option<Arc<Signer>>,
}

impl Receipts {
    /// No receipts (`TARCZA_RECEIPTS=false`).
    pub fn off() -> Receipts {
        Receipts { signer: None }
    }

    /// Receipts signed with `key`; its use is recorded in `db` if given.
    pub fn new(key: ReceiptKey, db: Option<PgPool>) -> Receipts {
        Receipts {
            signer: Some(Arc::new(Signer::new(key, db))),
        }
    }

    /// The signing key's id; `None` when receipts are off.
    pub fn key_id(&self) -> Option<&str> {
        self.signer.as_ref().map(|s| s.key().id.as_str())
    }

    /// Publishes the signing key's public half, so that its receipts can be verified
    /// later by anyone, whichever process signed them.
    pub async fn register(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        match &self.signer {
            Some(s) => {
                let key = s.key();
                crate::store::receipt_keys::register(pool, &key.id, &key.public()).await
            }
            None => Ok(()),
        }
    }

    /// A receipt for an answer whose claims are `claims`; `None` when receipts are off.
    pub async fn issue(&self, claims: &impl Serialize) -> Result<Option<Receipt>, ReceiptError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(384);
        serde_json::to_writer(&mut bytes, claims)?;
        let claims = String::from_utf8(bytes).expect("serde_json writes UTF-8");
        signer.sign(claims).await.map(Some)
    }
}
