//! Signing answers in small batches: an Ed25519 signature costs about 13 µs, a third of
//! what a whole `/check` costs, so concurrent answers share one. The first answer that
//! finds no signer at work starts one; the signer lets the runtime run the requests that
//! are already under way (`yield_now`) for as long as more answers keep arriving (at most
//! [`MAX_WAIT`] or [`MAX_LEAVES`]), then signs the Merkle root over all of them at once
//! and hands each its path. Under light load an answer waits for one yield and its own
//! signature; under load, many answers share a signature. Answers that arrive while it
//! signs make the next batch.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::Signer as _;
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::keys::ReceiptKey;
use super::merkle::{self, Hash};
use super::{Receipt, ReceiptError, SignedBatch, FORMAT};

/// Most answers one signature covers (a path of at most 8 steps).
pub const MAX_LEAVES: usize = 256;
/// Longest a batch waits for more answers once it has one.
pub const MAX_WAIT: Duration = Duration::from_micros(500);
/// How often, at most, the key's `last_used_at` is moved forward.
const RECORD_USE_EVERY: i64 = 60;

pub struct Signer {
    key: ReceiptKey,
    key_id: Arc<str>,
    queue: Mutex<Queue>,
    /// Where the key's use is recorded (`None`: nowhere, e.g. an unregistered test key).
    db: Option<PgPool>,
    /// Unix time the use was last recorded.
    recorded: AtomicI64,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    running: bool,
}

struct Waiting {
    leaf: Hash,
    reply: oneshot::Sender<(Arc<SignedBatch>, usize)>,
}

/// The statement a signature is made over: its exact bytes travel in every receipt.
#[derive(Serialize)]
struct Signed<'a> {
    v: u8,
    key_id: &'a str,
    /// SHA-256 tree root, hex.
    merkle_root: String,
    /// RFC 3339, microseconds.
    signed_at: String,
}

impl Signer {
    pub fn new(key: ReceiptKey, db: Option<PgPool>) -> Signer {
        Signer {
            key_id: Arc::from(key.id.as_str()),
            key,
            queue: Mutex::default(),
            db,
            recorded: AtomicI64::new(Utc::now().timestamp()),
        }
    }

    pub fn key(&self) -> &ReceiptKey {
        &self.key
    }

    /// Signs `claims` (with others that arrive meanwhile) and returns its receipt.
    pub async fn sign(self: &Arc<Self>, claims: String) -> Result<Receipt, ReceiptError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().expect("receipt queue lock");
            q.waiting.push(Waiting {
                leaf: merkle::leaf(claims.as_bytes()),
                reply,
            });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            tokio::spawn(self.clone().run());
        }
        let (batch, index) = answer.await.map_err(|_| ReceiptError::Signer)?;
        Ok(Receipt {
            key_id: self.key_id.clone(),
            claims,
            batch,
            index,
        })
    }

    async fn run(self: Arc<Self>) {
        let _stopped = Stopped(&self);
        loop {
            self.gather().await;
            let waiting = {
                let mut q = self.queue.lock().expect("receipt queue lock");
                if q.waiting.is_empty() {
                    q.running = false;
                    return;
                }
                let take = q.waiting.len().min(MAX_LEAVES);
                q.waiting.drain(..take).collect::<Vec<_>>()
            };
            self.sign_batch(waiting);
        }
    }

    fn waiting(&self) -> usize {
        self.queue.lock().expect("receipt queue lock").waiting.len()
    }

    /// Lets the requests already under way add their answers while they keep coming.
    async fn gather(&self) {
        let started = Instant::now();
        let mut seen = self.waiting();
        loop {
            tokio::task::yield_now().await;
            let now = self.waiting();
            if now == seen || now >= MAX_LEAVES || started.elapsed() >= MAX_WAIT {
                return;
            }
            seen = now;
        }
    }

    fn sign_batch(&self, waiting: Vec<Waiting>) {
        let levels = merkle::levels(waiting.iter().map(|w| w.leaf).collect());
        let root = levels.last().expect("a root")[0];
        let signed = serde_json::to_string(&Signed {
            v: FORMAT,
            key_id: &self.key.id,
            merkle_root: crate::domain::hash::hex(&root),
            signed_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        })
        .expect("a statement serializes");
        let signature = BASE64.encode(self.key.signing.sign(signed.as_bytes()).to_bytes());
        let batch = Arc::new(SignedBatch {
            levels,
            signed,
            signature,
        });
        for (i, w) in waiting.into_iter().enumerate() {
            // An answer whose request went away meanwhile needs no receipt.
            let _ = w.reply.send((batch.clone(), i));
        }
        self.record_use();
    }

    /// Moves the key's `last_used_at` forward, at most once a minute, off the request.
    fn record_use(&self) {
        let Some(db) = &self.db else { return };
        let now = Utc::now().timestamp();
        let last = self.recorded.load(Ordering::Relaxed);
        if now - last < RECORD_USE_EVERY
            || self
                .recorded
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (db, id) = (db.clone(), self.key.id.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::store::receipt_keys::touch(&db, &id).await {
                tracing::warn!(error = %e, key_id = %id, "recording that the receipt key is in use");
            }
        });
    }
}

/// Marks the signer stopped when `run` ends, also by a panic: the answers still waiting
/// then get an error (their requests answer 500, so the dialer does not call) rather
/// than waiting for ever, and the next answer starts a new signer.
struct Stopped<'a>(&'a Signer);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(mut q) = self.0.queue.lock() {
                q.running = false;
                q.waiting.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Verifier;

    use super::*;

    fn verify(key: &ReceiptKey, r: &Receipt) -> bool {
        let r: crate::receipts::Submitted =
            serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap();
        let root = merkle::root_of(r.claims.as_bytes(), &r.path).unwrap();
        let signed: serde_json::Value = serde_json::from_str(&r.signed).unwrap();
        let sig = BASE64.decode(&r.signature).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        signed["merkle_root"] == crate::domain::hash::hex(&root)
            && key
                .signing
                .verifying_key()
                .verify(r.signed.as_bytes(), &sig)
                .is_ok()
    }

    #[tokio::test]
    async fn one_answer_alone_gets_its_own_signature() {
        let signer = Arc::new(Signer::new(ReceiptKey::from_seed(&[1; 32]), None));
        let r = signer.sign("alone".into()).await.unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["path"], serde_json::json!([]));
        assert!(verify(signer.key(), &r));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_answers_share_signatures_and_each_verifies() {
        let signer = Arc::new(Signer::new(ReceiptKey::from_seed(&[2; 32]), None));
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let s = signer.clone();
                tokio::spawn(async move { s.sign(format!("answer {i}")).await.unwrap() })
            })
            .collect();
        let mut signatures = std::collections::HashSet::new();
        for t in tasks {
            let r = t.await.unwrap();
            assert!(verify(signer.key(), &r));
            signatures.insert(r.batch.signature.clone());
        }
        assert!(signatures.len() < 500, "{} signatures", signatures.len());
    }
}
