//! Every SQL statement of the service, one file per table or concern (`members` for the
//! registry member tables, `locks` for advisory locks, `snapshot` for what a refresh
//! reads, `roles` and `schema` for set-up). Functions take a connection (often a
//! transaction's) or the pool, so callers decide what is atomic, and return rows or
//! `sqlx::Error`: no decisions beyond the statement, nothing of HTTP, no other layer's
//! types but `domain`'s.

pub mod audit;
pub mod changes;
pub mod consent_imports;
pub mod consents;
pub mod copy;
pub mod dnc;
pub mod dnc_sync;
pub mod evidence;
pub mod history;
pub mod imports;
pub mod keys;
pub mod locks;
pub mod members;
pub mod policies;
pub mod receipt_keys;
pub mod registries;
pub mod roles;
pub mod rules_history;
pub mod schema;
pub mod sessions;
pub mod snapshot;
pub mod webhooks;

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

/// Whether a database error means "the database is not there" rather than "we sent it
/// something wrong": then `/check` answers from memory and writes are refused (503
/// `database_unavailable`) rather than failed (500).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    ) || matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}
