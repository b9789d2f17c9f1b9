//! Retention of evidence (migration 0022): the period the owner set, and the erasure of
//! what is older, through the owner's function (the serving role cannot do it itself).

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::domain::Retention;

/// Sets the retention period (only the schema's owner may).
pub async fn set_retention(conn: &mut PgConnection, r: Retention) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE evidence_policy SET retention = make_interval(years => $1, secs => $2::float8)",
    )
    .bind(r.years as i32)
    .bind(r.seconds as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the retention period kept in the database is `r`.
pub async fn retention_is(pool: &PgPool, r: Retention) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT retention = make_interval(years => $1, secs => $2::float8) FROM evidence_policy",
    )
    .bind(r.years as i32)
    .bind(r.seconds as f64)
    .fetch_one(pool)
    .await
}

/// The retention period kept in the database, as PostgreSQL writes it (`6 years`).
pub async fn retention(pool: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT retention::text FROM evidence_policy")
        .fetch_one(pool)
        .await
}

/// Erases the personal data older than the retention period (see the migration) and
/// returns what was erased, as recorded in the audit log.
pub async fn erase_expired(pool: &PgPool) -> Result<Value, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT erase_expired_evidence(now() - (SELECT retention FROM evidence_policy))",
    )
    .fetch_one(pool)
    .await
}
