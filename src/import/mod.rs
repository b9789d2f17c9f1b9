//! Registry imports: an uploaded file becomes a new generation of a registry's members,
//! or changes nothing at all.
//!
//! The whole import runs on one dedicated connection holding the registry's advisory
//! lock (one import per registry at a time, across replicas; a crashed importer's lock
//! dies with its connection). The new members are written into a table of their own and
//! the registry is pointed at it in the same transaction that records success, so a
//! failed, refused or killed import leaves the previous data serving.

mod collect;
pub mod csv;
pub mod hashed;
pub mod upload;

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::Settings;
use crate::domain::{Encoding, Format, ImportStatus, Mode, Region};
use crate::index::{Index, Members};
use crate::store::audit::{self, AuditEvent};
use crate::store::imports::{self, Import, Outcome, ONE_RUNNING};
use crate::store::locks::SessionLock;
use crate::store::registries::{self, Registry};
use crate::store::{bump_version, is_unique_violation, members as member_tables};
use upload::{Limits, ReadOptions, Upload, UploadError};

/// Version of the way files are read into keys. Part of an import's [`reading`]: bump it
/// when a change to parsing (numbers, CSV, hashes) changes which keys a file yields, so
/// that the same file sent again after an upgrade is imported again, not taken for
/// unchanged.
pub const READER_VERSION: u32 = 1;

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

/// Runs an import of `body` to its end and returns its record. Spawned by the caller so
/// that a client that hangs up mid-commit cannot cancel it half-way.
pub async fn run(
    db: PgPool,
    index: Arc<Index>,
    options: Options,
    req: ImportRequest,
    body: impl ByteStream,
) -> Result<Import, ImportError> {
    start(db, index, options, req).await?.load(body).await
}

/// An import that has begun: it holds its registry's lock (on a connection of its own)
/// and its record exists, `running`. End it with [`Started::load`] or
/// [`Started::end_without_data`]; dropped, it leaves the record `running` until the next
/// import of the registry (or the next start) marks it failed, and changes nothing.
pub struct Started {
    to: Target,
    req: ImportRequest,
    lock: SessionLock,
    import: Import,
}

/// Takes the registry's import lock and records the import as running (`409
/// import_in_progress` while another import of the registry runs).
pub async fn start(
    db: PgPool,
    index: Arc<Index>,
    options: Options,
    req: ImportRequest,
) -> Result<Started, ImportError> {
    let Some(mut lock) = SessionLock::try_import(&db, req.registry.id).await? else {
        return Err(in_progress(&req.registry.name));
    };
    match begin(options.region, &req, lock.conn()).await {
        Ok(import) => Ok(Started {
            to: Target { db, index, options },
            req,
            lock,
            import,
        }),
        Err(e) => {
            lock.release().await;
            Err(e)
        }
    }
}

/// Where an import goes and how it reads.
struct Target {
    db: PgPool,
    index: Arc<Index>,
    options: Options,
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

    /// Reads `body` and ends the import: the data becomes live, or nothing changes.
    pub async fn load(mut self, body: impl ByteStream) -> Result<Import, ImportError> {
        let result = run_locked(&self.to, &self.req, self.import.id, body, self.lock.conn()).await;
        self.lock.release().await;
        result
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

async fn run_locked(
    to: &Target,
    req: &ImportRequest,
    import_id: i64,
    body: impl ByteStream,
    conn: &mut PgConnection,
) -> Result<Import, ImportError> {
    let registry = &req.registry;
    let options = ReadOptions {
        region: to.options.region,
        mode: req.mode,
        format: req.format,
        encoding: req.encoding,
        limits: to.options.limits,
    };
    let upload = match upload::read(body, options).await {
        Ok(upload) => upload,
        Err(e) => {
            let status = match e {
                UploadError::Refused(_) => ImportStatus::Refused,
                UploadError::Failed(_) => ImportStatus::Failed,
            };
            let outcome = Outcome {
                status,
                error: Some(e.to_string()),
                ..Outcome::default()
            };
            return conclude(conn, req, import_id, outcome, &[]).await;
        }
    };
    let mut outcome = Outcome {
        status: ImportStatus::Running,
        rows_total: upload.rows_total as i64,
        rows_rejected: upload.rows_rejected as i64,
        rows_accepted: upload.rows_accepted as i64,
        bytes: upload.bytes as i64,
        checksum: Some(upload.checksum.clone()),
        ..Outcome::default()
    };
    if let Some(problem) = unacceptable(&upload, req) {
        outcome.status = problem.0;
        outcome.error = Some(problem.1);
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }

    // Compare with what is live now (as Postgres has it, not as this process last saw it).
    to.index.refresh(&to.db).await?;
    let snapshot = to.index.current().ok_or(ImportError::NotReady)?;
    let live = snapshot.registry(&registry.name);
    let current = live.map(|r| r.members.clone()).unwrap_or_default();
    let reading = reading(req, to.options.region);
    if imports::already_live(conn, registry.id, &upload.checksum, &reading).await? {
        outcome.status = ImportStatus::Succeeded;
        outcome.unchanged = true;
        outcome.entries_before = Some(current.len() as i64);
        outcome.entries_after = Some(current.len() as i64);
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }
    let live_scheme = live.and_then(|r| r.hash_scheme);
    if req.mode == Mode::Delta && !current.is_empty() && live_scheme != req.format.hash_scheme() {
        outcome.status = ImportStatus::Refused;
        outcome.error = Some(format!(
            "the registry holds {} data; a delta must be in the same format (send a snapshot \
             to change the format)",
            live_scheme.map_or("csv (numbers)".to_string(), |s| format!("sha256 ({s})"))
        ));
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }
    let Upload {
        keys,
        rejects,
        rows_accepted,
        ..
    } = upload;
    let mode = req.mode;
    let before = current.clone();
    let (members, distinct, removed) = tokio::task::spawn_blocking(move || {
        let distinct = keys.distinct();
        let members = match mode {
            Mode::Snapshot => keys.adds,
            Mode::Delta => keys.applied_to(&before),
        };
        let removed = before.count_missing_from(&members);
        crate::index::return_free_memory();
        (members, distinct, removed)
    })
    .await
    .map_err(|e| anyhow::anyhow!("building the new members failed: {e}"))?;
    outcome.rows_duplicate = rows_accepted.saturating_sub(distinct as u64) as i64;
    outcome.entries_before = Some(current.len() as i64);
    outcome.entries_after = Some(members.len() as i64);
    // A truncated snapshot and a broken or tampered delta feed alike must not unblock
    // people wholesale.
    if !req.force && removed as f64 > req.max_shrink * current.len() as f64 {
        outcome.status = ImportStatus::Refused;
        outcome.error = Some(format!(
            "this {} would remove {removed} of the {} current entries ({:.1}%), more than \
             max_shrink ({:.1}%); a truncated or damaged file must not unblock people. If the \
             removal is intended, upload again with force=true",
            req.mode.as_str(),
            current.len(),
            100.0 * removed as f64 / current.len() as f64,
            100.0 * req.max_shrink
        ));
        return conclude(conn, req, import_id, outcome, &rejects).await;
    }
    drop(current);

    let members = Arc::new(members);
    outcome.status = ImportStatus::Succeeded;
    match swap_in(conn, req, import_id, &members, &outcome).await {
        Ok(done) => {
            imports::save_rejects(&mut *conn, import_id, &rejects).await?;
            to.index.stage_members(import_id, members);
            if let Err(e) = to.index.refresh(&to.db).await {
                tracing::warn!(error = %e, "refresh after import failed; reconciliation will retry");
            }
            drop(rejects);
            crate::index::return_free_memory();
            tracing::info!(
                import_id,
                entries = done.outcome.entries_after,
                "import succeeded"
            );
            Ok(done)
        }
        Err(e) => {
            tracing::error!(import_id, error = %e, "import failed while writing");
            outcome.status = ImportStatus::Failed;
            outcome.error = Some(format!("writing the data failed: {e}"));
            conclude(conn, req, import_id, outcome, &rejects).await
        }
    }
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
    }
}

/// Refusal or failure decided from the file alone.
fn unacceptable(upload: &Upload, req: &ImportRequest) -> Option<(ImportStatus, String)> {
    if let Some(expected) = &req.expected_sha256 {
        if !expected.trim().eq_ignore_ascii_case(&upload.checksum) {
            return Some((
                ImportStatus::Refused,
                format!(
                    "the file's SHA-256 is {}, not the declared {}; it was damaged or is not \
                     the file meant. Nothing was changed",
                    upload.checksum,
                    expected.trim()
                ),
            ));
        }
    }
    if let Some(expected) = req.expected_rows {
        if expected != upload.rows_total {
            return Some((
                ImportStatus::Refused,
                format!(
                    "the file has {} data rows, not the declared {expected}; nothing was changed",
                    upload.rows_total
                ),
            ));
        }
    }
    if upload.rows_total == 0 {
        return Some((ImportStatus::Failed, "the file holds no data rows".into()));
    }
    let rate = upload.rows_rejected as f64 / upload.rows_total as f64;
    if rate > req.max_reject_rate {
        return Some((
            ImportStatus::Refused,
            format!(
                "{} of {} rows ({:.1}%) were rejected, more than max_reject_rate ({:.1}%); \
                 nothing was changed. See rejects for the reasons",
                upload.rows_rejected,
                upload.rows_total,
                100.0 * rate,
                100.0 * req.max_reject_rate
            ),
        ));
    }
    if upload.snapshot_removes > 0 {
        return Some((
            ImportStatus::Refused,
            "a snapshot cannot remove numbers; send rows with a remove operation as mode=delta"
                .into(),
        ));
    }
    None
}

/// Writes the members into a new table and makes it the registry's live generation,
/// together with the import's success, in one transaction.
async fn swap_in(
    conn: &mut PgConnection,
    req: &ImportRequest,
    import_id: i64,
    members: &Members,
    outcome: &Outcome,
) -> Result<Import, sqlx::Error> {
    let mut tx = conn.begin().await?;
    member_tables::write(&mut tx, import_id, members.iter()).await?;
    let previous = registries::lock_generation(&mut tx, req.registry.id).await?;
    let version = bump_version(&mut tx).await?;
    let live = registries::Live {
        generation: import_id,
        entries: members.len() as i64,
        version,
        source_time: req.source_time,
        hash_scheme: req.format.hash_scheme(),
    };
    registries::set_live(&mut tx, req.registry.id, &live).await?;
    if let Some(previous) = previous {
        member_tables::drop(&mut tx, previous).await?;
    }
    let done = imports::finish(&mut tx, import_id, outcome, req.source_time).await?;
    audit::record(&mut tx, outcome_event(req, import_id, outcome)).await?;
    tx.commit().await?;
    Ok(done)
}

/// Records an import that ends without changing the registry.
async fn conclude(
    conn: &mut PgConnection,
    req: &ImportRequest,
    import_id: i64,
    outcome: Outcome,
    rejects: &[imports::Reject],
) -> Result<Import, ImportError> {
    tracing::info!(import_id, status = %outcome.status, error = ?outcome.error, "import ended without changes");
    let mut tx = conn.begin().await?;
    let done = imports::finish(&mut tx, import_id, &outcome, req.source_time).await?;
    imports::save_rejects(&mut tx, import_id, rejects).await?;
    audit::record(&mut tx, outcome_event(req, import_id, &outcome)).await?;
    tx.commit().await?;
    Ok(done)
}

fn outcome_event<'a>(req: &ImportRequest, import_id: i64, o: &'a Outcome) -> AuditEvent<'a> {
    AuditEvent {
        actor: req.actor,
        action: match o.status {
            ImportStatus::Succeeded if o.unchanged => "import.unchanged",
            ImportStatus::Succeeded => "import.succeeded",
            ImportStatus::Refused => "import.refused",
            _ => "import.failed",
        },
        number: None,
        subject: Some(format!("import:{import_id}")),
        details: json!({
            "registry": req.registry.name, "rows_total": o.rows_total,
            "rows_rejected": o.rows_rejected, "entries_before": o.entries_before,
            "entries_after": o.entries_after, "checksum": o.checksum, "error": o.error,
            "source": req.source,
        }),
    }
}
