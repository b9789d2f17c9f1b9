//! Getting a connection pool: to `DATABASE_URL`, or to a private PostgreSQL started in
//! the data directory. Also migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::Config;
use crate::embedded::EmbeddedPostgres;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Name of the database tarcza uses inside its embedded cluster.
const EMBEDDED_DATABASE: &str = "tarcza";

/// The pool, and the embedded server behind it if we started one.
pub struct Database {
    pub pool: PgPool,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects as configured. With no `DATABASE_URL`, starts (and on first use
    /// initialises) the embedded cluster in `TARCZA_DATA_DIR`.
    pub async fn open(config: &Config) -> anyhow::Result<Database> {
        if let Some(url) = &config.database_url {
            let pool = connect(url).await.context("connecting to DATABASE_URL")?;
            return Ok(Database {
                pool,
                embedded: None,
            });
        }
        let dir = config.data_dir.clone();
        tracing::info!(dir = %dir.display(), "starting the embedded PostgreSQL");
        let embedded = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir))
            .await
            .context("embedded PostgreSQL start-up task")??;
        create_database(&embedded.url("postgres"), EMBEDDED_DATABASE).await?;
        let pool = connect(&embedded.url(EMBEDDED_DATABASE)).await?;
        Ok(Database {
            pool,
            embedded: Some(embedded),
        })
    }

    /// Closes the pool, then stops the embedded server (if any) cleanly.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(mut pg) = self.embedded {
            tokio::task::spawn_blocking(move || pg.stop()).await??;
        }
        Ok(())
    }
}

pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    let options =
        PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
    Ok(pool_options().connect_with(options).await?)
}

/// Pool settings: short acquire timeout so that writes fail fast (503) when the
/// database is gone instead of hanging the request.
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
}

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
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    conn.close().await?;
    Ok(())
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    Ok(())
}
