//! The schema: the migrations this binary carries, whether a database has them all, and
//! creating a database to hold them.

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection, PgPool};

use super::roles::quote_ident;

/// The migrations under `migrations/`, built into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Creates database `name` on the server at `admin_url` unless it exists.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .context("connecting to create the database")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = quote_ident(name);
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    conn.close().await?;
    Ok(())
}

/// Whether every migration this binary knows is applied (read without changing
/// anything, so a role that may not migrate can tell it need not).
pub async fn schema_is_current(pool: &PgPool) -> anyhow::Result<bool> {
    let applied: Vec<(i64, Vec<u8>)> =
        match sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
        {
            Ok(rows) => rows,
            // No migrations table yet (42P01): a new database.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
                return Ok(false)
            }
            Err(e) => return Err(e).context("reading the applied migrations"),
        };
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .all(|m| {
            applied
                .iter()
                .any(|(v, sum)| *v == m.version && sum[..] == m.checksum[..])
        }))
}
