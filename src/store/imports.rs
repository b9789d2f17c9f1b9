//! Import records: one row per upload, with its counts, outcome and rejected rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::locks::{self, LockKey};
use crate::domain::{Encoding, Format, ImportPhase, ImportStatus, Mode};

pub const ONE_RUNNING: &str = "imports_one_running_per_registry";
const COLUMNS: &str =
    "id, registry_id, mode, format, status, rows_total, rows_accepted, rows_rejected, \
     rows_duplicate, entries_before, entries_after, bytes, checksum, error, forced, created_at, \
     finished_at, created_by, source, source_time, unchanged, hash_scheme, encoding, reading, \
     bytes_expected, phase, progress_at";

/// An import's record. Serialized (without the registry's id and the reading) as the
/// body of the imports API.
#[derive(sqlx::FromRow, Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Import {
    pub id: i64,
    #[serde(skip)]
    pub registry_id: i32,
    /// `snapshot` or `delta`.
    #[schema(example = "snapshot")]
    pub mode: String,
    /// `csv` or `sha256`.
    #[schema(example = "csv")]
    pub format: String,
    /// How it ended (or `running`), with its counts.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub outcome: Outcome,
    pub forced: bool,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_by: Option<i64>,
    /// `upload`, or the source the scheduled sync fetched.
    pub source: String,
    pub source_time: Option<DateTime<Utc>>,
    pub hash_scheme: Option<String>,
    pub encoding: Option<String>,
    /// How the file was read (see `import::reading`); `None` for imports from before it
    /// was recorded.
    #[serde(skip)]
    pub reading: Option<String>,
    /// The size of the file in bytes as sent, when it was known in advance.
    #[serde(skip)]
    pub bytes_expected: Option<i64>,
    /// What a running import was doing when it last wrote its progress
    /// ([`ImportPhase`]); `None` before that.
    #[serde(skip)]
    pub phase: Option<String>,
    /// When a running import last wrote its progress (the counts of [`Outcome`] so far).
    #[serde(skip)]
    pub progress_at: Option<DateTime<Utc>>,
}

/// A rejected row of an import file.
#[derive(sqlx::FromRow, Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reject {
    /// The physical line of the file, from 1 (a header is line 1).
    pub line: i64,
    /// The line's first 40 characters (`…` marks a cut).
    pub raw: String,
    /// `invalid_number`, `not_a_number`, `invalid_character`, `too_long`, `invalid_op`,
    /// `invalid_utf8`, `line_too_long`, `invalid_hash`, …
    #[schema(example = "invalid_number")]
    pub reason: String,
    pub message: String,
}

/// What an import came to: its status and counts, written once when it ends (and, while
/// it runs, the counts so far).
#[derive(sqlx::FromRow, Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    #[sqlx(try_from = "String")]
    pub status: ImportStatus,
    /// Data rows (header and blank lines not counted), accepted and rejected.
    pub rows_total: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    /// Accepted rows whose number an earlier row already had.
    pub rows_duplicate: i64,
    pub entries_before: Option<i64>,
    pub entries_after: Option<i64>,
    /// Bytes of the file as sent.
    pub bytes: i64,
    /// The file's SHA-256 (hex).
    pub checksum: Option<String>,
    /// Why the import failed or was refused.
    pub error: Option<String>,
    /// The file was the one already live (or the source was not modified): the import
    /// succeeded and changed nothing.
    pub unchanged: bool,
}

/// What is known of an import when it starts.
pub struct NewImport<'a> {
    pub mode: Mode,
    pub format: Format,
    pub encoding: Option<Encoding>,
    pub forced: bool,
    pub actor: Option<i64>,
    pub source: &'a str,
    pub source_time: Option<DateTime<Utc>>,
    pub reading: &'a str,
    /// The size of the file in bytes, when known before it is read.
    pub bytes_expected: Option<u64>,
}

pub async fn create(
    conn: &mut PgConnection,
    registry_id: i32,
    new: &NewImport<'_>,
) -> Result<Import, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO imports (registry_id, mode, format, status, forced, created_by, source, \
         source_time, hash_scheme, encoding, reading, bytes_expected, phase) \
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $11, 'reading') \
         RETURNING {COLUMNS}"
    ))
    .bind(registry_id)
    .bind(new.mode.as_str())
    .bind(new.format.as_str())
    .bind(new.forced)
    .bind(new.actor)
    .bind(new.source)
    .bind(new.source_time)
    .bind(new.format.hash_scheme().map(|s| s.as_str()))
    .bind(new.encoding.map(|e| e.name()))
    .bind(new.reading)
    .bind(
        new.bytes_expected
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
    )
    .fetch_one(conn)
    .await
}

/// How far a running import has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file received so far, as sent.
    pub bytes: i64,
    /// Data rows read so far, and of them accepted and rejected.
    pub rows_total: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub phase: ImportPhase,
}

/// Writes how far import `id` has got (and the file's size, once known), while it is
/// still running: a progress write that comes after the import has ended changes
/// nothing. Returns whether it was written.
pub async fn save_progress(
    pool: &PgPool,
    id: i64,
    p: &Progress,
    bytes_expected: Option<u64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE imports SET bytes = $2, rows_total = $3, rows_accepted = $4, rows_rejected = $5, \
         phase = $6, bytes_expected = coalesce($7, bytes_expected), progress_at = now() \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(p.bytes)
    .bind(p.rows_total)
    .bind(p.rows_accepted)
    .bind(p.rows_rejected)
    .bind(p.phase.as_str())
    .bind(bytes_expected.map(|b| i64::try_from(b).unwrap_or(i64::MAX)))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The import of registry `registry_id` that is running now, if any (there is at most
/// one: see [`ONE_RUNNING`]).
pub async fn running(pool: &PgPool, registry_id: i32) -> Result<Option<Import>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM imports WHERE registry_id = $1 AND status IN ('pending', 'running')"
    ))
    .bind(registry_id)
    .fetch_optional(pool)
    .await
}

/// Records how import `id` ended, and when its data was produced if the source said so
/// only after the import began.
pub async fn finish(
    conn: &mut PgConnection,
    id: i64,
    o: &Outcome,
    source_time: Option<DateTime<Utc>>,
) -> Result<Import, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE imports SET status = $2, rows_total = $3, rows_accepted = $4, rows_rejected = $5, \
         rows_duplicate = $6, entries_before = $7, entries_after = $8, bytes = $9, checksum = $10, \
         error = $11, unchanged = $12, source_time = coalesce($13, source_time), phase = NULL, \
         finished_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(o.status.as_str())
    .bind(o.rows_total)
    .bind(o.rows_accepted)
    .bind(o.rows_rejected)
    .bind(o.rows_duplicate)
    .bind(o.entries_before)
    .bind(o.entries_after)
    .bind(o.bytes)
    .bind(&o.checksum)
    .bind(&o.error)
    .bind(o.unchanged)
    .bind(source_time)
    .fetch_one(conn)
    .await
}

pub async fn save_rejects(
    conn: &mut PgConnection,
    id: i64,
    rejects: &[Reject],
) -> Result<(), sqlx::Error> {
    if rejects.is_empty() {
        return Ok(());
    }
    let lines: Vec<i64> = rejects.iter().map(|r| r.line).collect();
    let raws: Vec<&str> = rejects.iter().map(|r| r.raw.as_str()).collect();
    let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    let messages: Vec<&str> = rejects.iter().map(|r| r.message.as_str()).collect();
    sqlx::query(
        "INSERT INTO import_rejects (import_id, line, raw, reason, message) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(id)
    .bind(lines)
    .bind(raws)
    .bind(reasons)
    .bind(messages)
    .execute(conn)
    .await?;
    Ok(())
}

/// The file behind a registry's live data, as its import recorded it.
#[derive(sqlx::FromRow, Debug)]
pub struct LiveFile {
    pub checksum: Option<String>,
    /// `None` for data imported before readings were recorded.
    pub reading: Option<String>,
}

/// The file the registry's live data came from; `None` without live data.
pub async fn live_file(pool: &PgPool, registry_id: i32) -> Result<Option<LiveFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.checksum, i.reading FROM registries r JOIN imports i ON i.id = r.last_import_id \
         WHERE r.id = $1 AND r.generation IS NOT NULL",
    )
    .bind(registry_id)
    .fetch_optional(pool)
    .await
}

pub async fn get(pool: &PgPool, registry_id: i32, id: i64) -> Result<Option<Import>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM imports WHERE id = $1 AND registry_id = $2"
    ))
    .bind(id)
    .bind(registry_id)
    .fetch_optional(pool)
    .await
}

pub async fn list(pool: &PgPool, registry_id: i32, limit: i64) -> Result<Vec<Import>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM imports WHERE registry_id = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(registry_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn rejects(pool: &PgPool, id: i64, limit: i64) -> Result<Vec<Reject>, sqlx::Error> {
    sqlx::query_as(
        "SELECT line, raw, reason, message FROM import_rejects WHERE import_id = $1 ORDER BY line LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Marks as failed the imports of registry `registry_id` still marked running: called
/// holding the registry's import lock, so they were left by a process that died.
/// Returns how many were marked.
pub async fn mark_interrupted(
    conn: &mut PgConnection,
    registry_id: i32,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE imports SET status = 'failed', finished_at = now(), \
         error = 'interrupted: the process running this import stopped before it finished; nothing was changed' \
         WHERE registry_id = $1 AND status IN ('pending', 'running')",
    )
    .bind(registry_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Marks as failed the imports left `running` by a process that died: those whose
/// registry's import lock nobody holds. Returns how many were marked.
pub async fn fail_interrupted(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let registries: Vec<i32> = sqlx::query_scalar(
        "SELECT DISTINCT registry_id FROM imports WHERE status IN ('pending', 'running')",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut marked = 0;
    for registry_id in registries {
        let key = LockKey::import(registry_id);
        if !locks::try_lock(&mut conn, key).await? {
            continue;
        }
        let done = mark_interrupted(&mut conn, registry_id).await;
        locks::unlock(&mut conn, key).await?;
        marked += done?;
    }
    Ok(marked)
}

/// Whether the registry's live data came from a file with this checksum, read the same
/// way: then importing it again would change nothing. (Imports recorded before readings
/// were kept have none, so they never match.)
pub async fn already_live(
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
