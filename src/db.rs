//! Getting a connection pool: to `DATABASE_URL`, or to a private PostgreSQL started in
//! the data directory. Also migrations, run as the role that owns the schema while the
//! service runs as one that owns nothing it must not rewrite (see `store::roles`). The
//! SQL this takes is in `store::roles` and `store::schema`.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::Config;
use crate::domain::Retention;
use crate::embedded::{EmbeddedPostgres, SERVING_ROLE};
use crate::store::schema::{self, MIGRATOR};
use crate::store::{evidence, roles};

/// Name of the database tarcza uses inside its embedded cluster.
const EMBEDDED_DATABASE: &str = "tarcza";

/// The pool, and the embedded server behind it if we started one.
pub struct Database {
    /// The service's own connections, as the serving role.
    pub pool: PgPool,
    /// Where migrations run: the schema owner's URL. `None`: the pool's own role
    /// migrates (one role for everything, as before two roles were supported).
    owner_url: Option<String>,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects as configured. With no `DATABASE_URL`, starts (and on first use
    /// initialises) the embedded cluster in `TARCZA_DATA_DIR`, with its superuser as the
    /// schema owner and [`SERVING_ROLE`] for the service.
    pub async fn open(config: &Config) -> anyhow::Result<Database> {
        if let Some(url) = &config.database_url {
            let owner_url = config.migration_database_url.as_deref();
            return Ok(Database {
                owner_url: owner_url.map(checked_owner_url).transpose()?,
                pool: connect(url).await.context("connecting to DATABASE_URL")?,
                embedded: None,
            });
        }
        if config.migration_database_url.is_some() {
            bail!(
                "TARCZA_MIGRATION_DATABASE_URL is set but DATABASE_URL is not: the embedded \
                 PostgreSQL makes its own roles; set both, or neither"
            );
        }
        let dir = config.data_dir.clone();
        tracing::info!(dir = %dir.display(), "starting the embedded PostgreSQL");
        let embedded = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir))
            .await
            .context("embedded PostgreSQL start-up task")??;
        let admin = embedded.url("postgres");
        schema::create_database(&admin, EMBEDDED_DATABASE).await?;
        roles::create_serving_role(&admin, SERVING_ROLE, None).await?;
        let mut database = Database::connect(
            &embedded.serving_url(EMBEDDED_DATABASE),
            Some(&embedded.url(EMBEDDED_DATABASE)),
        )
        .await?;
        database.embedded = Some(embedded);
        Ok(database)
    }

    /// A pool on `url` (the serving role); migrations go to `owner_url` if given.
    pub async fn connect(url: &str, owner_url: Option<&str>) -> anyhow::Result<Database> {
        Ok(Database {
            owner_url: owner_url.map(checked_owner_url).transpose()?,
            pool: connect(url).await?,
            embedded: None,
        })
    }

    /// Brings the schema up to date. With an owner URL: migrations run as the owner,
    /// who then grants the serving role what it needs ([`roles::grant_serving_role`]),
    /// and start-up fails if the serving role could still rewrite the audit log.
    /// Without: migrations run on the pool itself unless the schema is current already
    /// (so a replica needs only the serving role's URL), and a role that could rewrite
    /// the audit log is warned about.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let Some(owner_url) = &self.owner_url else {
            if !schema::schema_is_current(&self.pool).await? {
                MIGRATOR.run(&self.pool).await.context(
                    "applying migrations (if DATABASE_URL's role may not change the schema, \
                     set TARCZA_MIGRATION_DATABASE_URL to the owner's URL)",
                )?;
            }
            let risks = roles::rewrite_risks(&self.pool).await?;
            if !risks.is_empty() {
                tracing::warn!(
                    "the database role tarcza runs as could rewrite the audit log ({}); run it \
                     as a role that owns no table and set TARCZA_MIGRATION_DATABASE_URL to the \
                     owner's URL (README: \"Database roles\")",
                    risks.join("; ")
                );
            }
            return Ok(());
        };
        let serving = roles::current_user(&self.pool).await?;
        let mut owner = PgConnection::connect(owner_url)
            .await
            .context("connecting to TARCZA_MIGRATION_DATABASE_URL")?;
        let owner_role = roles::current_user(&mut owner).await?;
        if owner_role == serving {
            bail!(
                "DATABASE_URL and TARCZA_MIGRATION_DATABASE_URL both log in as `{serving}`: the \
                 service must run as a role that owns no table (README: \"Database roles\")"
            );
        }
        MIGRATOR
            .run(&mut owner)
            .await
            .context("applying migrations as the owner")?;
        roles::grant_serving_role(&mut owner, &serving).await?;
        owner.close().await?;
        roles::check_serving_role(&self.pool, &serving).await
    }

    /// Keeps `retention` as the period evidence is kept (migration 0022): only the owner
    /// may set it, so a replica started without the owner's URL leaves it, and says so
    /// when the database keeps another.
    pub async fn set_evidence_retention(&self, retention: Retention) -> anyhow::Result<()> {
        if let Some(owner_url) = &self.owner_url {
            let mut owner = PgConnection::connect(owner_url)
                .await
                .context("connecting to TARCZA_MIGRATION_DATABASE_URL")?;
            evidence::set_retention(&mut owner, retention).await?;
            owner.close().await?;
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        match evidence::set_retention(&mut conn, retention).await {
            Ok(()) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {
                if !evidence::retention_is(&self.pool, retention).await? {
                    tracing::warn!(
                        "TARCZA_EVIDENCE_RETENTION is {retention}, but the database keeps \
                         evidence for {} (set by the schema's owner; this process has no \
                         TARCZA_MIGRATION_DATABASE_URL to change it): the database's period \
                         applies",
                        evidence::retention(&self.pool).await?
                    );
                }
                Ok(())
            }
            Err(e) => Err(e).context("setting the evidence retention period"),
        }
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

fn checked_owner_url(url: &str) -> anyhow::Result<String> {
    PgConnectOptions::from_str(url)
        .context("TARCZA_MIGRATION_DATABASE_URL is not a valid PostgreSQL URL")?;
    Ok(url.to_owned())
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

/// Applies the migrations on `pool`, as whatever role it logs in as.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    Ok(())
}
