//! Imports you can watch: how far each import this process runs has got. The reader
//! updates atomics as it goes; the API reads them (fresher than the database row), so
//! does `/metrics`, and a writer puts them in the import's row about once a second, so
//! that every replica's API shows a running import moving.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::ImportPhase;
use crate::store::imports;

/// How often a running import writes its progress to its row.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

const UNKNOWN: u64 = u64::MAX;

/// How far one import has got. Written by the import, read by anyone.
#[derive(Debug)]
pub struct Progress {
    bytes: AtomicU64,
    /// The file's size as sent, when known ([`UNKNOWN`] otherwise).
    expected: AtomicU64,
    rows_total: AtomicU64,
    rows_accepted: AtomicU64,
    rows_rejected: AtomicU64,
    phase: AtomicU8,
}

impl Progress {
    fn new(expected: Option<u64>) -> Progress {
        Progress {
            bytes: AtomicU64::new(0),
            expected: AtomicU64::new(expected.unwrap_or(UNKNOWN)),
            rows_total: AtomicU64::new(0),
            rows_accepted: AtomicU64::new(0),
            rows_rejected: AtomicU64::new(0),
            phase: AtomicU8::new(0),
        }
    }

    /// Records the bytes of the file received so far, as sent.
    pub(super) fn received(&self, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    /// Records what the reader has got to: data rows read, of them accepted and rejected.
    pub(super) fn rows(&self, rows_total: u64, accepted: u64, rejected: u64) {
        self.rows_total.store(rows_total, Ordering::Relaxed);
        self.rows_accepted.store(accepted, Ordering::Relaxed);
        self.rows_rejected.store(rejected, Ordering::Relaxed);
    }

    /// The file's size, once the source has said it.
    pub(super) fn expect(&self, bytes: Option<u64>) {
        self.expected
            .store(bytes.unwrap_or(UNKNOWN), Ordering::Relaxed);
    }

    pub(super) fn enter(&self, phase: ImportPhase) {
        let i = ImportPhase::ALL.iter().position(|p| *p == phase);
        self.phase.store(i.unwrap_or(0) as u8, Ordering::Relaxed);
    }

    /// The file's size in bytes as sent, when known.
    pub fn expected(&self) -> Option<u64> {
        Some(self.expected.load(Ordering::Relaxed)).filter(|b| *b != UNKNOWN)
    }

    /// How far the import has got now.
    pub fn now(&self) -> imports::Progress {
        let get = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        imports::Progress {
            bytes: get(&self.bytes),
            rows_total: get(&self.rows_total),
            rows_accepted: get(&self.rows_accepted),
            rows_rejected: get(&self.rows_rejected),
            phase: ImportPhase::ALL[usize::from(self.phase.load(Ordering::Relaxed)).min(2)],
        }
    }
}

/// An import this process is running.
#[derive(Debug)]
pub struct Watched {
    pub import_id: i64,
    pub registry: String,
    /// `upload`, or `sync` for a file a sync fetched from the registry's source.
    pub source: &'static str,
    pub started: Instant,
    pub progress: Arc<Progress>,
}

/// The imports this process is running now.
#[derive(Debug, Default)]
pub struct Running(Mutex<Vec<Arc<Watched>>>);

impl Running {
    /// Every import running here now.
    pub fn list(&self) -> Vec<Arc<Watched>> {
        self.0.lock().expect("running imports lock").clone()
    }

    /// Import `import_id`, if it runs here.
    pub fn get(&self, import_id: i64) -> Option<Arc<Watched>> {
        self.list().into_iter().find(|w| w.import_id == import_id)
    }

    /// Adds an import; it is taken off the list when the returned guard is dropped (the
    /// import ended, failed, or its task was dropped).
    pub(super) fn add(
        self: &Arc<Self>,
        import_id: i64,
        registry: &str,
        source: &'static str,
        expected: Option<u64>,
    ) -> Registration {
        let watched = Arc::new(Watched {
            import_id,
            registry: registry.to_string(),
            source,
            started: Instant::now(),
            progress: Arc::new(Progress::new(expected)),
        });
        self.0
            .lock()
            .expect("running imports lock")
            .push(watched.clone());
        Registration {
            running: self.clone(),
            watched,
        }
    }
}

/// An import on the list of [`Running`] ones, until dropped.
pub(super) struct Registration {
    running: Arc<Running>,
    pub(super) watched: Arc<Watched>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut list = self.running.0.lock().expect("running imports lock");
        list.retain(|w| !Arc::ptr_eq(w, &self.watched));
    }
}

/// Writes `watched`'s progress to its row every [`WRITE_EVERY`] while it changes, until
/// `stop`. A failed write is logged and tried again next time: progress is for people
/// watching, never a reason to fail the import.
pub(super) async fn write(db: PgPool, watched: Arc<Watched>, stop: CancellationToken) {
    let mut written = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(WRITE_EVERY) => {}
        }
        let now = (watched.progress.now(), watched.progress.expected());
        if written == Some(now) {
            continue;
        }
        match imports::save_progress(&db, watched.import_id, &now.0, now.1).await {
            Ok(_) => written = Some(now),
            Err(e) => {
                tracing::debug!(import_id = watched.import_id, error = %e, "writing import progress failed")
            }
        }
    }
}
