//! Decision receipts: every `/v1/check` answer carries a receipt that a third party can
//! verify without tarcza's secret, binding the number, the scope asked for, the verdict,
//! the reasons, the data it was decided on and the time (README "Decision receipts").
//!
//! Format 2 (issued now): the receipt signs the answer's own bytes. The handler writes the
//! answer without its receipt (the number, `client`, `campaign`, the verdict, the snapshot
//! version, each registry's generation, the time), [`Receipts::seal`] hashes exactly those
//! bytes into a leaf and writes the receipt as the answer's last member: `{"v":2,
//! "key_id", "leaf", "path", "signed", "signature"}` (`"leaf":"blake3"` on a batch answer,
//! whose bytes are hashed with BLAKE3 first: [`merkle::Leaf`]; absent otherwise), with the
//! Merkle path from the leaf to the root of the batch it was signed in (`path`, one base64
//! string), the exact bytes of the signed statement naming that root and the key
//! (`signed`) and the Ed25519 signature over them (`signature`, base64). A verifier cuts
//! the body at its last `,"receipt":` and appends `}`: those are the bytes signed. Format 1 (receipts issued before) carried the
//! claims as a JSON string instead; they still verify (`verify`). Signing is shared by
//! concurrent answers (`signer`); keys are in `keys`.
//!
//! Below `http/`: plain inputs (answer bytes, keys, the pool) and its own error.

pub mod claims;
pub mod keys;
pub mod merkle;
mod signer;
pub mod verify;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

pub use claims::Generations;
pub use keys::ReceiptKey;
pub use merkle::Leaf;
use signer::Signer;
pub use verify::{PublishedKey, Verified};

/// The version of the receipt format issued now (in receipts and signed statements).
pub const FORMAT: u8 = 2;
/// The format of receipts issued before format 2 (claims carried as a string).
pub const FORMAT_1: u8 = 1;

/// What precedes a receipt in an answer: the answer's bytes before it are what it signs.
pub const MEMBER: &[u8] = b",\"receipt\":";

/// A format-2 receipt, as it travels in an answer. It shares its batch's tree and
/// signature with the other answers of the batch and writes its path straight into the
/// answer (no copies: this is on every `/check`).
pub struct Receipt {
    batch: Arc<SignedBatch>,
    /// The answer's leaf in the batch's tree.
    index: usize,
}

/// The statement of a batch's root, and its signature, written once per batch as the
/// JSON text every receipt of the batch repeats.
pub struct SignedBatch {
    levels: Vec<Vec<merkle::Hash>>,
    /// `{"v":2,"key_id":"…",` (the key id is hex: nothing to escape).
    head: String,
    /// `","signed":"<the statement, escaped>","signature":"<base64>"}`.
    tail: String,
}

impl Receipt {
    /// Writes this receipt, of an answer whose leaf was made by `leaf`, as JSON to `out`.
    fn write(&self, leaf: Leaf, out: &mut Vec<u8>) {
        let mut path = String::with_capacity(400);
        merkle::write_packed(&self.batch.levels, self.index, &mut path);
        out.extend_from_slice(self.batch.head.as_bytes());
        if leaf == Leaf::Blake3 {
            out.extend_from_slice(br#""leaf":"blake3","#);
        }
        out.extend_from_slice(br#""path":""#);
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(self.batch.tail.as_bytes());
    }
}

/// A format-2 receipt as an answer carries it (for the document, and as a verifier reads
/// it back).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Receipt)]
pub struct Carried {
    /// The format: 2.
    pub v: u8,
    /// The signing key's id (`GET /v1/receipts/keys`).
    pub key_id: String,
    /// How the answer's bytes became its leaf: absent (`sha256`) for `SHA-256(0x00 ‖
    /// answer)`, `blake3` (a batch answer) for `SHA-256(0x02 ‖ BLAKE3(answer))`.
    #[serde(default, skip_serializing_if = "Leaf::is_sha256")]
    pub leaf: Leaf,
    /// From the answer's leaf to the signed root: base64 of 33-byte steps, each a side
    /// byte (0: the sibling is on the left, 1: on the right) and the 32-byte sibling.
    pub path: String,
    /// The signed statement of the batch's root: the exact bytes the signature is over.
    pub signed: String,
    /// Base64 of the Ed25519 signature.
    pub signature: String,
}

/// A format-1 receipt (issued before format 2), as submitted for verification.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReceiptV1)]
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

    /// Seals `answer`, a JSON object written without its receipt: its bytes are hashed
    /// into a leaf the `leaf` way, signed (with others that arrive meanwhile) and its
    /// receipt written in as its last member. Nothing changes when receipts are off.
    pub async fn seal(&self, answer: &mut Vec<u8>, leaf: Leaf) -> Result<(), ReceiptError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        assert_eq!(answer.last(), Some(&b'}'), "an answer is a JSON object");
        let receipt = signer.sign(leaf.of(answer)).await?;
        answer.pop();
        answer.extend_from_slice(MEMBER);
        receipt.write(leaf, answer);
        answer.push(b'}');
        Ok(())
    }
}
