//! Registry metadata. The members themselves live in per-generation tables (see
//! `members`) written by the import pipeline.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::HashScheme;

use super::bump_version;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Registry {
    pub id: i32,
    pub name: String,
    pub generation: Option<i64>,
    pub entries: i64,
    pub loaded_at: Option<DateTime<Utc>>,
    pub source_time: Option<DateTime<Utc>>,
    pub last_import_id: Option<i64>,
    pub version: i64,
    pub hash_scheme: Option<String>,
    pub sync_etag: Option<String>,
    pub sync_last_modified: Option<String>,
    pub sync_checksum: Option<String>,
}

const COLUMNS: &str = "id, name, generation, entries, loaded_at, source_time, last_import_id, \
     version, hash_scheme, sync_etag, sync_last_modified, sync_checksum";

/// Creates registry `name` if it does not exist yet (a registry named in configuration).
/// Returns whether it was created.
pub async fn ensure(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM registries WHERE name = $1)")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Ok(false);
    }
    let version = bump_version(&mut tx).await?;
    let created = sqlx::query(
        "INSERT INTO registries (name, version) VALUES ($1, $2) \
         ON CONFLICT ON CONSTRAINT registries_name_unique DO NOTHING",
    )
    .bind(name)
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(created == 1)
}

/// What a scheduled sync last fetched successfully (for conditional GETs and checksums).
/// Bookkeeping of the sync, not data the snapshot holds: no version bump.
pub async fn save_sync_state(
    pool: &PgPool,
    id: i32,
    etag: Option<&str>,
    last_modified: Option<&str>,
    checksum: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE registries SET sync_etag = $2, sync_last_modified = $3, sync_checksum = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(etag)
    .bind(last_modified)
    .bind(checksum)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many entries the registry's live data has.
pub async fn entries(conn: &mut PgConnection, id: i32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT entries FROM registries WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

pub async fn by_name(pool: &PgPool, name: &str) -> Result<Option<Registry>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM registries WHERE name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await
}

pub async fn list(pool: &PgPool) -> Result<Vec<Registry>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM registries ORDER BY name"))
        .fetch_all(pool)
        .await
}

/// The registry's live generation, locked until the transaction ends (one generation
/// goes live at a time).
pub async fn lock_generation(conn: &mut PgConnection, id: i32) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT generation FROM registries WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// A generation of a registry's members going live.
pub struct Live {
    /// The import that wrote the members (and names their table).
    pub generation: i64,
    pub entries: i64,
    /// The data version of the change (see `bump_version`).
    pub version: i64,
    /// When the source says the data was produced; `None`: now.
    pub source_time: Option<DateTime<Utc>>,
    pub hash_scheme: Option<HashScheme>,
}

/// Points registry `id` at a new generation of members.
pub async fn set_live(conn: &mut PgConnection, id: i32, live: &Live) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE registries SET generation = $2, entries = $3, loaded_at = now(), \
         source_time = coalesce($5, now()), last_import_id = $2, version = $4, hash_scheme = $6 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(live.generation)
    .bind(live.entries)
    .bind(live.version)
    .bind(live.source_time)
    .bind(live.hash_scheme.map(HashScheme::as_str))
    .execute(conn)
    .await?;
    Ok(())
}
