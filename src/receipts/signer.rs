//! Signing answers in small batches: an Ed25519 signature costs about 13 µs, a third of
//! what a whole `/check` costs, so concurrent answers share one. The first answer that
//! finds no batch gathering leads one: it yields to the other tasks ready to run (the
//! answers they finish meanwhile join the batch) until a round brings nothing new or
//! [`WINDOW`] has passed, then signs the Merkle root over its own leaf and the others'
//! (at most [`MAX_LEAVES`]) on its own task and hands each its path. Nobody sleeps on a
//! timer: under load a batch closes when the machine has nothing else ready to do (a
//! signature then costs no throughput), and a lone answer waits only for one turn of
//! the scheduler and its own signature. Before it signs, the leader passes the lead to
//! the first answer still waiting, which gathers the next batch meanwhile. An answer whose
//! request goes away (a dropped future) while it leads or has just been told to passes
//! the lead on, so that no answer waits for a leader that is gone. Each worker thread
//! gathers its own batch ([`SHARDS`] queues): a leader wakes only answers of its own
//! thread, so no request is pulled to another core by its receipt.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
/// The longest a batch gathers before it is signed, however many answers keep coming.
pub const WINDOW: Duration = Duration::from_micros(250);
/// Queues of answers: each thread's answers are batched with that thread's, so that the
/// leader wakes the others on its own thread (a wake from another thread moves the woken
/// request, its timers and its socket to the waker's core).
const SHARDS: usize = 8;
/// How often, at most, the key's `last_used_at` is moved forward.
const RECORD_USE_EVERY: i64 = 60;

pub struct Signer {
    key: ReceiptKey,
    /// One queue per shard of threads: an answer joins the batch of the thread it runs on.
    queues: Box<[Mutex<Queue>]>,
    /// Where the key's use is recorded (`None`: nowhere, e.g. an unregistered test key).
    db: Option<PgPool>,
    /// Unix time the use was last recorded.
    recorded: AtomicI64,
}

#[derive(Default)]
struct Queue {
    /// Answers waiting for the leader to sign them (oldest first).
    waiting: Vec<Waiting>,
    /// An answer leads a batch: the others wait for it.
    leading: bool,
}

struct Waiting {
    leaf: Hash,
    reply: oneshot::Sender<Reply>,
}

/// What a waiting answer is told.
enum Reply {
    /// Its receipt: the batch it was signed in and its leaf's place.
    Signed(Arc<SignedBatch>, usize),
    /// To lead the next batch (its leaf is left out of the queue: it signs it itself).
    Lead,
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
            queues: (0..SHARDS).map(|_| Mutex::default()).collect(),
            db,
            recorded: AtomicI64::new(Utc::now().timestamp()),
        }
    }

    pub fn key(&self) -> &ReceiptKey {
        &self.key
    }

    fn queue(&self, shard: usize) -> MutexGuard<'_, Queue> {
        self.queues[shard].lock().expect("receipt queue lock")
    }

    /// Signs the answer whose leaf is `leaf` (with others that arrive meanwhile) and
    /// returns its receipt.
    pub async fn sign(&self, leaf: Hash) -> Result<Receipt, ReceiptError> {
        let shard = shard();
        let answer = {
            let mut q = self.queue(shard);
            if q.leading {
                let (reply, answer) = oneshot::channel();
                q.waiting.push(Waiting { leaf, reply });
                Some(answer)
            } else {
                q.leading = true;
                None
            }
        };
        if let Some(answer) = answer {
            let mut waiting = Pending {
                signer: self,
                shard,
                answer: Some(answer),
            };
            if let Reply::Signed(batch, index) = waiting.wait().await? {
                return Ok(Receipt { batch, index });
            }
        }
        self.lead(shard, leaf).await
    }

    /// Leads a batch: gathers the answers that come while the other ready tasks run,
    /// passes the lead on and signs `own` with the others.
    async fn lead(&self, shard: usize, own: Hash) -> Result<Receipt, ReceiptError> {
        let mut lead = Leading(Some((self, shard)));
        self.gather(shard).await;
        let others = {
            let mut q = self.queue(shard);
            let take = q.waiting.len().min(MAX_LEAVES - 1);
            q.waiting.drain(..take).collect::<Vec<_>>()
        };
        lead.pass();
        Ok(self.sign_batch(own, others))
    }

    /// Yields to the tasks ready to run while each round brings more answers, at most
    /// [`WINDOW`] long.
    async fn gather(&self, shard: usize) {
        let started = Instant::now();
        let mut seen = self.queue(shard).waiting.len();
        loop {
            tokio::task::yield_now().await;
            let now = self.queue(shard).waiting.len();
            if now == seen || now >= MAX_LEAVES - 1 || started.elapsed() >= WINDOW {
                return;
            }
            seen = now;
        }
    }

    /// Gives the lead to the oldest answer still waiting (one whose request went away
    /// cannot take it: the next one), or, with none waiting, leaves it free.
    fn pass_lead(&self, shard: usize) {
        let mut q = self.queue(shard);
        while !q.waiting.is_empty() {
            if q.waiting.remove(0).reply.send(Reply::Lead).is_ok() {
                return;
            }
        }
        q.leading = false;
    }

    /// Signs the tree over `own` (leaf 0) and the `others`, sends each other its place
    /// and returns `own`'s receipt.
    fn sign_batch(&self, own: Hash, others: Vec<Waiting>) -> Receipt {
        let leaves = std::iter::once(own).chain(others.iter().map(|w| w.leaf));
        let levels = merkle::levels(leaves.collect());
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
            head: format!(r#"{{"v":{FORMAT},"key_id":"{}","#, self.key.id),
            tail: format!(
                r#"","signed":{},"signature":"{signature}"}}"#,
                serde_json::to_string(&signed).expect("a string serializes")
            ),
        });
        for (i, w) in others.into_iter().enumerate() {
            // An answer whose request went away meanwhile needs no receipt.
            let _ = w.reply.send(Reply::Signed(batch.clone(), i + 1));
        }
        self.record_use();
        Receipt { batch, index: 0 }
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

/// This thread's queue: threads take the shards in turn as they first sign.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// An answer waiting for its receipt (or for the lead).
struct Pending<'a> {
    signer: &'a Signer,
    shard: usize,
    answer: Option<oneshot::Receiver<Reply>>,
}

impl Pending<'_> {
    async fn wait(&mut self) -> Result<Reply, ReceiptError> {
        let answer = self.answer.as_mut().expect("waited once");
        let reply = answer.await.map_err(|_| ReceiptError::Signer);
        self.answer = None;
        reply
    }
}

impl Drop for Pending<'_> {
    /// A request that went away while waiting: if it was just given the lead, it passes it
    /// on (closing first, so that the lead cannot reach it after this).
    fn drop(&mut self) {
        if let Some(mut answer) = self.answer.take() {
            answer.close();
            if let Ok(Reply::Lead) = answer.try_recv() {
                self.signer.pass_lead(self.shard);
            }
        }
    }
}

/// The lead of a batch, passed on once the batch is taken ([`Leading::pass`]) or, if the
/// leading request goes away before (a dropped future), when it is dropped. A leader that
/// panics while signing has passed the lead already; the answers of its batch get an error
/// (their senders are dropped), so their requests answer 500 rather than wait for ever.
struct Leading<'a>(Option<(&'a Signer, usize)>);

impl Leading<'_> {
    fn pass(&mut self) {
        if let Some((signer, shard)) = self.0.take() {
            signer.pass_lead(shard);
        }
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.pass();
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Verifier;

    use super::*;
    use crate::receipts::{Carried, Leaf};

    fn carried(r: &Receipt) -> Carried {
        let mut json = Vec::new();
        r.write(Leaf::Sha256, &mut json);
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

    /// Polls `f` once.
    async fn poll_once<F: std::future::Future + Unpin>(f: &mut F) {
        std::future::poll_fn(|cx| {
            let _ = std::pin::Pin::new(&mut *f).poll(cx);
            std::task::Poll::Ready(())
        })
        .await
    }

    #[tokio::test]
    async fn the_lead_passes_on_when_the_leading_requests_go_away() {
        let signer = Arc::new(Signer::new(ReceiptKey::from_seed(&[3; 32]), None));
        // `a` leads (it is gathering); `b` and `c` wait for it.
        let mut a = Box::pin(signer.sign(merkle::leaf(b"a")));
        poll_once(&mut a).await;
        let mut b = Box::pin(signer.sign(merkle::leaf(b"b")));
        poll_once(&mut b).await;
        let leaf = merkle::leaf(b"c");
        let c = tokio::spawn({
            let s = signer.clone();
            async move { s.sign(leaf).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(signer.queue(shard()).waiting.len(), 2, "b and c wait");
        // The leader's request goes away: the lead goes to `b`, which goes away before
        // it takes it up; `c` must lead and get its receipt rather than wait for ever.
        drop(a);
        assert_eq!(
            signer.queue(shard()).waiting.len(),
            1,
            "b was given the lead"
        );
        drop(b);
        let r = tokio::time::timeout(Duration::from_secs(5), c)
            .await
            .expect("c got its receipt")
            .unwrap()
            .unwrap();
        let r = carried(&r);
        assert_eq!(r.path, "", "c signed alone");
        assert!(verify(signer.key(), leaf, &r));
        assert!(!signer.queue(shard()).leading, "the lead is free again");
    }

    #[tokio::test]
    async fn an_answer_on_another_thread_does_not_wait_for_this_threads_batch() {
        let signer = Arc::new(Signer::new(ReceiptKey::from_seed(&[4; 32]), None));
        // This thread's answer leads a batch that is still gathering (never polled again).
        let mut a = Box::pin(signer.sign(merkle::leaf(b"a")));
        poll_once(&mut a).await;
        let here = shard();
        // An answer on another thread (a thread whose queue is not this one's: threads
        // take the queues in turn) leads its own batch and is signed alone at once.
        let leaf = merkle::leaf(b"b");
        let (there, signed) = (0..2 * SHARDS)
            .map(|_| {
                let s = signer.clone();
                std::thread::spawn(move || {
                    if shard() == here {
                        return (here, None);
                    }
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let r = rt.block_on(async move {
                        tokio::time::timeout(Duration::from_secs(5), s.sign(leaf)).await
                    });
                    (shard(), Some(r))
                })
                .join()
                .unwrap()
            })
            .find(|(_, r)| r.is_some())
            .expect("a thread with another queue");
        assert_ne!(there, here);
        let r = carried(
            &signed
                .unwrap()
                .expect("not kept waiting for the other thread's batch")
                .unwrap(),
        );
        assert_eq!(r.path, "", "signed alone");
        assert!(verify(signer.key(), leaf, &r));
        drop(a);
    }
}
