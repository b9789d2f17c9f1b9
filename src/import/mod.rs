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
mod format;
pub mod hashed;
pub mod upload;

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use chrono::{DateTime, Utc};
use encoding_rs::Encoding;
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::app::AppState;
use crate::domain::{HashScheme, Region};
use crate::error::ApiError;
use crate::index::{table_name, Members};
use crate::store::audit::{self, AuditEvent};
use crate::store::imports::{self, Import, Outcome, IMPORT_LOCK_CLASS, ONE_RUNNING};
use crate::store::registries::Registry;
use crate::store::{bump_version, is_unique_violation};
pub use format::{encoding, Format};
use upload::{Limits, ReadOptions, Upload, UploadError};

/// Version of the way files are read into keys. Part of an import's [`reading`]: bump it
/// when a change to parsing (numbers, CSV, hashes) changes which keys a file yields, so
/// that the same file sent again after an upgrade is imported again, not taken for
/// unchanged. 2: numbers are valid only as a full match of their region's patterns, and a
/// national prefix after the country code is kept when dropping it leaves no number.
pub const READER_VERSION: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The file is the whole registry: it replaces the current members.
    Snapshot,
    /// The file lists additions and removals (an `op` column).
    Delta,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Snapshot => "snapshot",
            Mode::Delta => "delta",
        }
    }
}

pub struct ImportRequest {
    pub registry: Registry,
    pub mode: Mode,
    pub format: Format,
    pub encoding: Option<&'static Encoding>,
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
        req.encoding.unwrap_or(encoding_rs::UTF_8).name(),
        region.as_ref(),
    )
}

/// Runs an import to its end and returns its record. Spawned by the caller so that a
/// client that hangs up mid-commit cannot cancel it half-way.
pub async fn run(state: AppState, req: ImportRequest, body: Body) -> Result<Import, ApiError> {
    start(&state, req).await?.load(body).await
}

/// An import that has begun: it holds its registry's lock (on a connection of its own)
/// and its record exists, `running`. End it with [`Started::load`] or
/// [`Started::end_without_data`]; dropped, it leaves the record `running` until the next
/// import of the registry (or the next start) marks it failed, and changes nothing.
pub struct Started {
    state: AppState,
    req: ImportRequest,
    conn: PgConnection,
    import: Import,
}

/// Takes the registry's import lock and records the import as running (`409
/// import_in_progress` while another import of the registry runs).
pub async fn start(state: &AppState, req: ImportRequest) -> Result<Started, ApiError> {
    let mut conn = state.db.acquire().await?.detach();
    match begin(state, &req, &mut conn).await {
        Ok(import) => Ok(Started {
            state: state.clone(),
            req,
            conn,
            import,
        }),
        Err(e) => {
            release(conn, req.registry.id).await;
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

    /// Reads `body` and ends the import: the data becomes live, or nothing changes.
    pub async fn load(mut self, body: Body) -> Result<Import, ApiError> {
        let result = run_locked(&self.state, &self.req, self.import.id, body, &mut self.conn).await;
        release(self.conn, self.req.registry.id).await;
        result
    }

    /// Ends the import without reading data: the source had nothing new (`error` is
    /// `None`: `succeeded`, `unchanged`) or could not be fetched (`failed`, with why).
    pub async fn end_without_data(
        mut self,
        checksum: Option<String>,
        error: Option<String>,
    ) -> Result<Import, ApiError> {
        let result = async {
            let entries =
                crate::store::registries::entries(&mut self.conn, self.req.registry.id).await?;
            let outcome = Outcome {
                status: if error.is_some() {
                    "failed"
                } else {
                    "succeeded"
                },
                unchanged: error.is_none(),
                entries_before: Some(entries),
                entries_after: Some(entries),
                checksum,
                error,
                ..Outcome::default()
            };
            conclude(&mut self.conn, &self.req, self.import.id, outcome, &[]).await
        }
        .await;
        release(self.conn, self.req.registry.id).await;
        result
    }
}

/// Unlocks explicitly: closing alone releases the lock only when the server gets round to
/// ending the session, a moment after we answer, so an import right after this one could
/// be told 409. (Unlocking a lock not held is a harmless no-op; if the connection is
/// broken, closing it releases the lock anyway.)
async fn release(mut conn: PgConnection, registry_id: i32) {
    let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(IMPORT_LOCK_CLASS)
        .bind(registry_id)
        .execute(&mut conn)
        .await;
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the import connection");
    }
}

async fn begin(
    state: &AppState,
    req: &ImportRequest,
    conn: &mut PgConnection,
) -> Result<Import, ApiError> {
    let registry = &req.registry;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(IMPORT_LOCK_CLASS)
        .bind(registry.id)
        .fetch_one(&mut *conn)
        .await?;
    if !locked {
        return Err(in_progress(&registry.name));
    }
    // We hold the lock, so an import still marked running was left by a dead process.
    sqlx::query(
        "UPDATE imports SET status = 'failed', finished_at = now(), \
         error = 'interrupted: the process running this import stopped before it finished; nothing was changed' \
         WHERE registry_id = $1 AND status IN ('pending', 'running')",
    )
    .bind(registry.id)
    .execute(&mut *conn)
    .await?;
    let reading = reading(req, state.settings.region);
    let import = imports::create(
        &mut *conn,
        registry.id,
        &imports::NewImport::of(req, &reading),
    )
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
    state: &AppState,
    req: &ImportRequest,
    import_id: i64,
    body: Body,
    conn: &mut PgConnection,
) -> Result<Import, ApiError> {
    let registry = &req.registry;
    let settings = &state.settings;
    let options = ReadOptions {
        region: settings.region,
        mode: req.mode,
        format: req.format,
        encoding: req.encoding,
        limits: Limits {
            sent_bytes: settings.max_upload_bytes,
            text_bytes: settings.max_decompressed_bytes,
            lines: settings.max_import_lines,
        },
    };
    let upload = match upload::read(body, options).await {
        Ok(upload) => upload,
        Err(e) => {
            let status = match e {
                UploadError::Refused(_) => "refused",
                UploadError::Failed(_) => "failed",
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
        status: "running",
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
    state.index.refresh(&state.db).await?;
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    let live = snapshot.registry(&registry.name);
    let current = live.map(|r| r.members.clone()).unwrap_or_default();
    let reading = reading(req, settings.region);
    if already_live(conn, registry.id, &upload.checksum, &reading).await? {
        outcome.status = "succeeded";
        outcome.unchanged = true;
        outcome.entries_before = Some(current.len() as i64);
        outcome.entries_after = Some(current.len() as i64);
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }
    let live_scheme = live.and_then(|r| r.hash_scheme);
    if req.mode == Mode::Delta && !current.is_empty() && live_scheme != req.format.hash_scheme() {
        outcome.status = "refused";
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
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("building the new members failed: {e}")))?;
    outcome.rows_duplicate = rows_accepted.saturating_sub(distinct as u64) as i64;
    outcome.entries_before = Some(current.len() as i64);
    outcome.entries_after = Some(members.len() as i64);
    // A truncated snapshot and a broken or tampered delta feed alike must not unblock
    // people wholesale.
    if !req.force && removed as f64 > req.max_shrink * current.len() as f64 {
        outcome.status = "refused";
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
    outcome.status = "succeeded";
    match swap_in(conn, req, import_id, &members, &outcome).await {
        Ok(done) => {
            imports::save_rejects(&mut *conn, import_id, &rejects).await?;
            state.index.stage_members(import_id, members);
            if let Err(e) = state.index.refresh(&state.db).await {
                tracing::warn!(error = %e, "refresh after import failed; reconciliation will retry");
            }
            drop(rejects);
            crate::index::return_free_memory();
            tracing::info!(import_id, entries = done.entries_after, "import succeeded");
            Ok(done)
        }
        Err(e) => {
            tracing::error!(import_id, error = %e, "import failed while writing");
            outcome.status = "failed";
            outcome.error = Some(format!("writing the data failed: {e}"));
            conclude(conn, req, import_id, outcome, &rejects).await
        }
    }
}

fn in_progress(name: &str) -> ApiError {
    ApiError::conflict(
        "import_in_progress",
        format!("an import into registry {name:?} is already running; wait for it to finish"),
    )
}

/// Refusal or failure decided from the file alone.
fn unacceptable(upload: &Upload, req: &ImportRequest) -> Option<(&'static str, String)> {
    if let Some(expected) = &req.expected_sha256 {
        if !expected.trim().eq_ignore_ascii_case(&upload.checksum) {
            return Some((
                "refused",
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
                "refused",
                format!(
                    "the file has {} data rows, not the declared {expected}; nothing was changed",
                    upload.rows_total
                ),
            ));
        }
    }
    if upload.rows_total == 0 {
        return Some(("failed", "the file holds no data rows".into()));
    }
    let rate = upload.rows_rejected as f64 / upload.rows_total as f64;
    if rate > req.max_reject_rate {
        return Some((
            "refused",
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
            "refused",
            "a snapshot cannot remove numbers; send rows with a remove operation as mode=delta"
                .into(),
        ));
    }
    None
}

/// Whether the registry's live data came from a file with this checksum, read the same
/// way: then importing it again would change nothing. (Imports recorded before readings
/// were kept have none, so they never match.)
async fn already_live(
    conn: &mut PgConnection,
    registry_id: i32,
    checksum: &str,
    reading: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM registries r JOIN imports i ON i.id = r.last_import_id \
         WHERE r.id = $1 AND r.generation IS NOT NULL AND i.checksum = $2 AND i.reading = $3)",
    )
    .bind(registry_id)
    .bind(checksum)
    .bind(reading)
    .fetch_one(conn)
    .await
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
    let table = table_name(import_id);
    sqlx::query(&format!("CREATE TABLE {table} (number bigint NOT NULL)"))
        .execute(&mut *tx)
        .await?;
    let mut copy = tx
        .copy_in_raw(&format!("COPY {table} (number) FROM STDIN"))
        .await?;
    let mut buf = Vec::with_capacity(1 << 20);
    for n in members.iter() {
        // Hash keys use all 64 bits: stored bit-for-bit in the signed column.
        writeln!(buf, "{}", n as i64).expect("writing to a Vec");
        if buf.len() >= (1 << 20) - 32 {
            copy.send(std::mem::take(&mut buf)).await?;
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    copy.finish().await?;

    let previous: Option<i64> =
        sqlx::query_scalar("SELECT generation FROM registries WHERE id = $1 FOR UPDATE")
            .bind(req.registry.id)
            .fetch_one(&mut *tx)
            .await?;
    let version = bump_version(&mut tx).await?;
    sqlx::query(
        "UPDATE registries SET generation = $2, entries = $3, loaded_at = now(), \
         source_time = coalesce($5, now()), last_import_id = $2, version = $4, hash_scheme = $6 \
         WHERE id = $1",
    )
    .bind(req.registry.id)
    .bind(import_id)
    .bind(members.len() as i64)
    .bind(version)
    .bind(req.source_time)
    .bind(req.format.hash_scheme().map(HashScheme::as_str))
    .execute(&mut *tx)
    .await?;
    if let Some(previous) = previous {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", table_name(previous)))
            .execute(&mut *tx)
            .await?;
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
) -> Result<Import, ApiError> {
    tracing::info!(import_id, status = outcome.status, error = ?outcome.error, "import ended without changes");
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
            "succeeded" if o.unchanged => "import.unchanged",
            "succeeded" => "import.succeeded",
            "refused" => "import.refused",
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
