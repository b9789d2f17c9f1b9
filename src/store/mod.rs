//! sqlx queries. Functions take a connection (often a transaction's), so callers decide
//! what is atomic.

pub mod audit;
pub mod dnc;
pub mod imports;
pub mod keys;
pub mod registries;

use sqlx::PgConnection;

/// Channel on which every committed change is announced (payload: the new version).
pub const CHANGES_CHANNEL: &str = "tarcza_changes";

/// Takes the next data version for a change made in the current transaction and
/// announces it on commit. The row lock held until commit makes versions commit in order.
pub async fn bump_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let version: i64 =
        sqlx::query_scalar("UPDATE data_version SET version = version + 1 RETURNING version")
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(version.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(version)
}

/// Whether `err` is a violation of the unique index or constraint `name`.
pub fn is_unique_violation(err: &sqlx::Error, name: &str) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.is_unique_violation() && db.constraint() == Some(name))
}
