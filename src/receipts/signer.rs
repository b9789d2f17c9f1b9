//! Signing answers in small batches: an Ed25519 signature costs about 13 µs, a third of
//! what a whole `/check` costs, so concurrent answers share one. The first answer that
//! finds no signer at work starts one on tokio's blocking pool. When answers come seldom
//! (none within [`BUSY`] of the last signature) it signs at once: a lone answer waits only
//! for its own signature. When they come often, it first lets them gather for [`WINDOW`],
//! asleep (so gathering costs the machine nothing), then signs the Merkle root over all
//! of them (at most [`MAX_LEAVES`]) and hands each its path: under load one signature
//! covers dozens of answers for a quarter of a millisecond of latency. Answers that
//! arrive while it signs make the next batch; it stops when none is left.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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
/// How long answers that come concurrently gather before they are signed together.
pub const WINDOW: Duration = Duration::from_micros(250);
/// Answers come concurrently when one comes within this long of the last signature.
const BUSY: Duration = Duration::from_millis(1);
/// How often, at most, the key's `last_used_at` is moved forward.
const RECORD_USE_EVERY: i64 = 60;

pub struct Signer {
    key: ReceiptKey,
    queue: Mutex<Queue>,
    /// Where the key's use is recorded (`None`: nowhere, e.g. an unregistered test key).
    db: Option<PgPool>,
    /// Unix time the use was last recorded.
    recorded: AtomicI64,
    /// When the last batch was signed, in microseconds since `epoch`: answers that come
    /// within [`BUSY`] of it come concurrently.
    last_signed: AtomicU64,
    epoch: Instant,
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
            key,
            queue: Mutex::default(),
            db,
            recorded: AtomicI64::new(Utc::now().timestamp()),
            last_signed: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn key(&self) -> &ReceiptKey {
        &self.key
    }

    /// Signs the answer whose leaf is `leaf` (with others that arrive meanwhile) and
    /// returns its receipt.
    pub async fn sign(self: &Arc<Self>, leaf: Hash) -> Result<Receipt, ReceiptError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().expect("receipt queue lock");
            q.waiting.push(Waiting { leaf, reply });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            let signer = self.clone();
            tokio::task::spawn_blocking(move || signer.run());
        }
        let (batch, index) = answer.await.map_err(|_| ReceiptError::Signer)?;
        Ok(Receipt { batch, index })
    }

    /// Signs batches until no answer is left (on the blocking pool: it sleeps and signs,
    /// so that gathering costs the machine nothing).
    fn run(self: Arc<Self>) {
        let _stopped = Stopped(&self);
        loop {
            let since = (self.epoch.elapsed().as_micros() as u64)
                .saturating_sub(self.last_signed.load(Ordering::Relaxed));
            if since < BUSY.as_micros() as u64 {
                std::thread::sleep(WINDOW);
            }
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
            let now = self.epoch.elapsed().as_micros() as u64;
            self.last_signed.store(now, Ordering::Relaxed);
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
            head: format!(r#"{{"v":{FORMAT},"key_id":"{}","path":""#, self.key.id),
            tail: format!(
                r#"","signed":{},"signature":"{signature}"}}"#,
                serde_json::to_string(&signed).expect("a string serializes")
            ),
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
    use crate::receipts::Carried;

    fn carried(r: &Receipt) -> Carried {
        let mut json = Vec::new();
        r.write(&mut json);
        serde_json::from_slice(&json).unwrap()
    }

    fn verify(key: &ReceiptKey, leaf: Hash, r: &Carried) -> bool {
        let root = merkle::root_of_packed(leaf, &r.path).unwrap();
        let signed: serde_json::Value = serde_json::from_str(&r.signed).unwrap();
        let sig = BASE64.decode(&r.signature).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        signed["merkle_root"] == crate::domain::hash::hex(&root)
            && signed["v"] == 2
            && r.v == 2
            && key
                .signing
                .verifying_key()
                .verify(r.signed.as_bytes(), &sig)
                .is_ok()
    }

    #[tokio::test]
    async fn one_answer_alone_gets_its_own_signature() {
        let signer = Arc::new(Signer::new(ReceiptKey::from_seed(&[1; 32]), None));
        let leaf = merkle::leaf(b"alone");
        let r = carried(&signer.sign(leaf).await.unwrap());
        assert_eq!(r.path, "");
        assert_eq!(r.key_id, signer.key().id);
        assert!(verify(signer.key(), leaf, &r));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_answers_share_signatures_and_each_verifies() {
        let signer = Arc::new(Signer::new(ReceiptKey::from_seed(&[2; 32]), None));
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let s = signer.clone();
                let leaf = merkle::leaf(format!("answer {i}").as_bytes());
                tokio::spawn(async move { (leaf, carried(&s.sign(leaf).await.unwrap())) })
            })
            .collect();
        let mut signatures = std::collections::HashSet::new();
        for t in tasks {
            let (leaf, r) = t.await.unwrap();
            assert!(verify(signer.key(), leaf, &r));
            assert!(!verify(signer.key(), merkle::leaf(b"another"), &r));
            signatures.insert(r.signature);
        }
        assert!(signatures.len() < 500, "{} signatures", signatures.len());
    }
}
