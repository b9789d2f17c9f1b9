//! The public halves of the receipt signing keys (migration 0021).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub algorithm: String,
    pub public_key: Vec<u8>,
    pub first_used_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, algorithm, public_key, first_used_at, last_used_at";

/// Publishes a key (or, when it is known already, records that it is in use again).
pub async fn register(pool: &PgPool, id: &str, public_key: &[u8; 32]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO receipt_keys (id, public_key) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET last_used_at = now()",
    )
    .bind(id)
    .bind(&public_key[..])
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that key `id` is signing now.
pub async fn touch(pool: &PgPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE receipt_keys SET last_used_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Every key ever used, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM receipt_keys ORDER BY first_used_at, id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, id: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM receipt_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}
