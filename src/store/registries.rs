//! Registry metadata. The members themselves live in per-generation tables
//! (see `index::table_name`) written by the import pipeline.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

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
}

const COLUMNS: &str =
    "id, name, generation, entries, loaded_at, source_time, last_import_id, version";

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
