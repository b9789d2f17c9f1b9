//! Registry imports: an uploaded file becomes a new generation of a registry's members,
//! or changes nothing at all.
//!
//! The whole import runs on one dedicated connection holding the registry's advisory
//! lock (one import per registry at a time, across replicas; a crashed importer's lock
//! dies with its connection). The new members are written into a table of their own and
//! the registry is pointed at it in the same transaction that records success, so a
//! failed, refused or killed import leaves the previous data serving.
//!
//! Decisions over a byte stream: [`run`] takes an [`Importer`] (the pool, the index, its
//! [`Options`], the list of [`Running`] imports) and the file's bytes, and returns the
//! import's record or an [`ImportError`]. While it runs, its progress can be watched
//! (`progress`). Nothing here knows HTTP, and its SQL is in `store` (`imports`,
//! `members`, `registries`, `locks`).

mod archive;
mod collect;
pub mod consents;
pub mod contacts;
pub mod csv;
pub mod flags;
pub mod hashed;
pub mod limits;
mod load;
pub mod progress;
mod record;
pub mod rows;
pub mod upload;

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::{Encoding, Format, ImportStatus, Mode, Region};
use crate::index::Index;
use crate::metrics::{ImportEnd, Metrics};
use crate::store::audit::{self, AuditEvent};
use crate::store::imports::{self, Import, Outcome, ONE_RUNNING};
use crate::store::is_unique_violation;
use crate::store::locks::SessionLock;
use crate::store::registries::{self, Registry};
use limits::Limits;
pub use progress::Running;
use progress::{Registration, Watched};
use record::conclude;

/// Version of the way files are read into keys. Part of an import's [`reading`]: bump it
/// when a change to parsing (numbers, CSV, hashes) changes which keys a file yields, so
/// that the same file sent again after an upgrade is imported again, not taken for
/// unchanged. 2: numbers are valid only as a full match of their region's patterns, and a
/// national prefix after the country code is kept when dropping it leaves no number.
pub const READER_VERSION: u32 = 2;

/// How this process reads files, fixed at start-up.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Region of numbers written without a country code.
    pub region: Region,
    pub limits: Limits,
}

impl Options {
    pub fn of(settings: &Settings) -> Options {
        Options {
            region: settings.region,
            limits: Limits {
                sent_bytes: settings.max_upload_bytes,
                text_bytes: settings.max_decompressed_bytes,
                lines: settings.max_import_lines,
            },
        }
    }
}

/// Why an import could not be run or recorded. (A file that is refused or fails to read
/// is not an error: the import ends `refused` or `failed`, and its record says why.)
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Another import of the registry is running (here or on another replica).
    #[error("an import into registry {registry:?} is already running; wait for it to finish")]
    InProgress { registry: String },
    /// This process has no snapshot to compare the file with yet.
    #[error("tarcza has not loaded its data yet")]
    NotReady,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The bytes of a file as they arrive; an error ends the import `failed`.
pub trait ByteStream: Stream<Item = io::Result<Bytes>> + Send + 'static {}
impl<S: Stream<Item = io::Result<Bytes>> + Send + 'static> ByteStream for S {}

pub struct ImportRequest {
    pub registry: Registry,
    pub mode: Mode,
    pub format: Format,
    pub encoding: Option<Encoding>,
    /// Accept an import even if it removes more than `max_shrink` of the entries.
    pub force: bool,
    pub max_shrink: f64,
    pub max_reject_rate: f64,
    /// The key that asked for the import; `None` for the scheduled re-sync.
    pub actor: Option<i64>,
    /// The SHA-256 (hex) the uploader says the file has.
    pub expected_sha256: Option<String>,
    /// How many data rows the uploader says the file has.
    pub expected_rows: Option<u64>,
    /// Where the file came from: `None` for an upload, else the configured source.
    pub source: Option<String>,
    /// When the source says the data was produced (Last-Modified, file mtime).
    pub source_time: Option<DateTime<Utc>>,
    /// The file's size in bytes as sent, when known before it is read (an upload's
    /// Content-Length): progress is then shown as a fraction too.
    pub size: Option<u64>,
}

/// Everything that decides which keys a file yields besides its bytes: the same bytes
/// with the same reading are the same import. Stored with each import.
pub fn reading(req: &ImportRequest, region: Region) -> String {
    let format = match req.format.hash_scheme() {
        Some(scheme) => format!("sha256:{scheme}"),
        None => "csv".to_string(),
    };
    format!(
        "{format} mode={} encoding={} region={} reader={READER_VERSION}",
        req.mode.as_str(),
        req.encoding.unwrap_or(Encoding::Utf8).name(),
        region.as_ref(),
    )
}

/// What an import works with: the database, this process's snapshot, how files are
/// read, the list of imports running here (where its progress can be watched) and the
/// metrics its end is counted in.
#[derive(Clone)]
pub struct Importer {
    pub db: PgPool,
    pub index: Arc<Index>,
    pub options: Options,
    pub running: Arc<Running>,
    pub metrics: Arc<Metrics>,
}

/// Runs an import of `body` to its end and returns its record. Spawned by the caller so
/// that a client that hangs up mid-commit cannot cancel it half-way.
pub async fn run(
    importer: Importer,
    req: ImportRequest,
    body: impl ByteStream,
) -> Result<Import, ImportError> {
    start(importer, req).await?.load(body).await
}

/// An import that has begun: it holds its registry's lock (on a connection of its own)
/// and its record exists, `running`. End it with [`Started::load`] or
/// [`Started::end_without_data`]; dropped, it leaves the record `running` until the next
/// import of the registry (or the next start) marks it failed, and changes nothing.
pub struct Started {
    to: Importer,
    req: ImportRequest,
    lock: SessionLock,
    import: Import,
    watched: Registration,
}

/// Takes the registry's import lock and records the import as running (`409
/// import_in_progress` while another import of the registry runs).
pub async fn start(to: Importer, req: ImportRequest) -> Result<Started, ImportError> {
    let Some(mut lock) = SessionLock::try_import(&to.db, req.registry.id).await? else {
        return Err(in_progress(&req.registry.name));
    };
    match begin(to.options.region, &req, lock.conn()).await {
        Ok(import) => {
            let source = if req.source.is_some() {
                "sync"
            } else {
                "upload"
            };
            let watched = to
                .running
                .add(import.id, &req.registry.name, source, req.size);
            Ok(Started {
                to,
                req,
                lock,
                import,
                watched,
            })
        }
        Err(e) => {
            lock.release().await;
            Err(e)
        }
    }
}

impl Started {
    /// The import's record as it was when it started.
    pub fn import(&self) -> &Import {
        &self.import
    }

    /// Sets when the data was produced, once the source has said so.
    pub fn set_source_time(&mut self, time: Option<DateTime<Utc>>) {
        self.req.source_time = time;
    }

    /// Sets the file's size in bytes, once the source has said it.
    pub fn set_size(&mut self, size: Option<u64>) {
        self.req.size = size;
        self.watched.watched.progress.expect(size);
    }

    /// How far the import has got (updated as it runs).
    pub fn watched(&self) -> &Arc<Watched> {
        &self.watched.watched
    }

    /// Reads `body` and ends the import: the data becomes live, or nothing changes. While
    /// it runs, its progress is written to its row about once a second.
    pub async fn load(mut self, body: impl ByteStream) -> Result<Import, ImportError> {
        let stop = CancellationToken::new();
        let writer = tokio::spawn(progress::write(
            self.to.db.clone(),
            self.watched.watched.clone(),
            stop.clone(),
        ));
        let id = self.import.id;
        let watched = self.watched.watched.clone();
        let result = load::load(&self.to, &self.req, id, &watched, body, self.lock.conn()).await;
        // The writer stops between two writes; one still under way changes nothing once
        // the import has ended (it only touches running imports).
        stop.cancel();
        drop(writer);
        self.count(&result);
        self.lock.release().await;
        result
    }

    /// Counts how the import ended in the metrics.
    fn count(&self, result: &Result<Import, ImportError>) {
        let Ok(import) = result else { return };
        let o = &import.outcome;
        let watched = &self.watched.watched;
        self.to.metrics.import_ended(
            &watched.registry,
            watched.source,
            &ImportEnd {
                status: o.status.as_str(),
                took: watched.started.elapsed(),
                rows_accepted: o.rows_accepted.max(0) as u64,
                rows_rejected: o.rows_rejected.max(0) as u64,
                rows_duplicate: o.rows_duplicate.max(0) as u64,
            },
        );
    }

    /// Ends the import without reading data: the source had nothing new (`error` is
    /// `None`: `succeeded`, `unchanged`) or could not be fetched (`failed`, with why).
    pub async fn end_without_data(
        mut self,
        checksum: Option<String>,
        error: Option<String>,
    ) -> Result<Import, ImportError> {
        let conn = self.lock.conn();
        let result = async {
            let entries = registries::entries(&mut *conn, self.req.registry.id).await?;
            let outcome = Outcome {
                status: if error.is_some() {
                    ImportStatus::Failed
                } else {
                    ImportStatus::Succeeded
                },
                unchanged: error.is_none(),
                entries_before: Some(entries),
                entries_after: Some(entries),
                checksum,
                error,
                ..Outcome::default()
            };
            conclude(conn, &self.req, self.import.id, outcome, &[]).await
        }
        .await;
        self.count(&result);
        self.lock.release().await;
        result
    }
}

async fn begin(
    region: Region,
    req: &ImportRequest,
    conn: &mut PgConnection,
) -> Result<Import, ImportError> {
    let registry = &req.registry;
    // We hold the lock, so an import still marked running was left by a dead process.
    imports::mark_interrupted(&mut *conn, registry.id).await?;
    let reading = reading(req, region);
    let import = imports::create(&mut *conn, registry.id, &new_import(req, &reading))
        .await
        .map_err(|e| {
            if is_unique_violation(&e, ONE_RUNNING) {
                in_progress(&registry.name)
            } else {
                e.into()
            }
        })?;
    audit::record(
        &mut *conn,
        AuditEvent {
            actor: req.actor,
            action: "import.start",
            number: None,
            subject: Some(format!("import:{}", import.id)),
            details: json!({
                "registry": registry.name, "mode": req.mode.as_str(), "format": req.format.as_str(),
                "force": req.force, "source": req.source,
            }),
        },
    )
    .await?;
    tracing::info!(import_id = import.id, registry = %registry.name, mode = req.mode.as_str(), "import started");
    Ok(import)
}

fn in_progress(name: &str) -> ImportError {
    ImportError::InProgress {
        registry: name.to_string(),
    }
}

/// The record of a new import of `req`.
fn new_import<'a>(req: &'a ImportRequest, reading: &'a str) -> imports::NewImport<'a> {
    imports::NewImport {
        mode: req.mode,
        format: req.format,
        encoding: req.encoding,
        forced: req.force,
        actor: req.actor,
        source: req.source.as_deref().unwrap_or("upload"),
        source_time: req.source_time,
        reading,
        bytes_expected: req.size,
    }
}
