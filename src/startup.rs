//! Start-up and the order of shutdown: prepare the database, serve HTTP, load the first
//! snapshot, run the background jobs; on shutdown, drain requests, stop the jobs, and
//! stop the embedded PostgreSQL last.

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Settings};
use crate::db::Database;
use crate::http::{self, AppState, ServeOptions};
use crate::receipts::{ReceiptKey, Receipts};
use crate::{console, domain, embedded, jobs, receipts, store};

/// Prepares a database for use: migrations (as the schema's owner, see
/// [`Database::migrate`]), the bootstrap admin key, and imports left running by a
/// process that died.
pub async fn prepare(database: &Database, config: &Config) -> anyhow::Result<()> {
    database.migrate().await?;
    database
        .set_evidence_retention(config.evidence_retention)
        .await?;
    let pool = &database.pool;
    let bootstrap = config
        .bootstrap_admin_key
        .as_deref()
        .filter(|k| !k.trim().is_empty());
    if let Some(key) = bootstrap {
        if key.trim().len() < 16 {
            anyhow::bail!("TARCZA_BOOTSTRAP_ADMIN_KEY must be at least 16 characters long");
        }
        use store::keys::Bootstrap;
        match store::keys::bootstrap(pool, key.trim())
            .await
            .context("creating the bootstrap admin key")?
        {
            Bootstrap::Created(id) | Bootstrap::Rotated(id) | Bootstrap::Unchanged(id) => {
                tracing::info!(key_id = id, "bootstrap admin key is in place");
            }
            Bootstrap::Revoked(id) => tracing::warn!(
                key_id = id,
                "TARCZA_BOOTSTRAP_ADMIN_KEY names key {id}, which was revoked: it stays revoked \
                 and no admin key is made from it; unset the variable (or set a new secret)"
            ),
            Bootstrap::OtherKey(id) => anyhow::bail!(
                "TARCZA_BOOTSTRAP_ADMIN_KEY is the secret of key {id}, which is not the \
                 bootstrap admin key; choose another secret"
            ),
        }
    }
    for registry in &config.registries {
        if store::registries::ensure(pool, &registry.name)
            .await
            .with_context(|| format!("creating registry {:?}", registry.name))?
        {
            tracing::info!(registry = %registry.name, "registry named in configuration created");
        }
    }
    let marked = store::imports::fail_interrupted(pool).await?;
    if marked > 0 {
        tracing::warn!(
            marked,
            "imports interrupted by an earlier stop were marked failed"
        );
    }
    Ok(())
}

/// What `tarcza serve` answers: the HTTP API and the web console at `/`, which calls the
/// API in-process (`console/api.rs`). Pure: binds nothing and reads no environment.
pub fn app(state: AppState) -> Router {
    let api = http::api(state.clone());
    http::observed(api.clone().merge(console::router(state, api)))
}

/// `tarcza serve`: runs until `shutdown` is cancelled, then drains requests, stops the
/// background jobs and, last, the embedded PostgreSQL.
pub async fn serve(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding TARCZA_BIND={}", config.bind))?;
    let metrics_listener = match config.metrics_bind {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding TARCZA_METRICS_BIND={addr}"))?,
        ),
        None => None,
    };
    tracing::info!(addr = %config.bind, "listening; /check answers 503 until the data is loaded");
    if let Some(addr) = config.metrics_bind {
        tracing::info!(%addr, "serving /metrics on its own address");
    }
    let database = Database::open(&config).await?;
    let result = serve_with(&config, &database, listener, metrics_listener, shutdown).await;
    if let Err(e) = database.shutdown().await {
        tracing::error!(error = ?e, "stopping the database");
    }
    result
}

async fn serve_with(
    config: &Config,
    database: &Database,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    prepare(database, config).await?;
    // Off the request path: ready the Polish fast path of number parsing.
    tokio::task::spawn_blocking(domain::warm_up_fast_path);
    let receipts = receipts(config, &database.pool).await?;
    let state =
        AppState::new(database.pool.clone(), Settings::from(config)).with_receipts(receipts);
    let options = ServeOptions {
        header_read_timeout: config.header_timeout,
        ..ServeOptions::default()
    };
    let server = tokio::spawn(http::serve_with(
        listener,
        app(state.clone()),
        shutdown.clone().cancelled_owned(),
        options,
    ));
    let metrics_server = metrics_listener.map(|l| {
        tokio::spawn(http::serve_with(
            l,
            http::metrics_router(state.clone()),
            shutdown.clone().cancelled_owned(),
            options,
        ))
    });

    // The first snapshot: retry until it loads (the database may still be starting).
    let mut delay = Duration::from_millis(200);
    loop {
        match jobs::changes::run_once(&state.db, &state.index).await {
            Ok(version) => {
                tracing::info!(version, "snapshot loaded; ready");
                break;
            }
            Err(e) => tracing::warn!(error = %e, "loading the snapshot failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(5)),
        }
    }
    // Supervised: restarted if they panic. Should the follower still fail to keep the
    // snapshot current, /check and /readyz answer 503 stale_snapshot after
    // TARCZA_MAX_SNAPSHOT_LAG (index/freshness.rs).
    let follower = tokio::spawn(jobs::supervise("change follower", shutdown.clone(), {
        let (ctx, interval, shutdown) = (state.jobs(), config.reconcile_interval, shutdown.clone());
        move || {
            let (db, index) = (ctx.db.clone(), ctx.index.clone());
            jobs::changes::follow(db, index, interval, shutdown.clone())
        }
    }));
    let scheduler = tokio::spawn(jobs::supervise("sync scheduler", shutdown.clone(), {
        let (ctx, shutdown) = (state.jobs(), shutdown.clone());
        move || jobs::sync::schedule(ctx.clone(), shutdown.clone())
    }));

    let feed = tokio::spawn(jobs::supervise("change feed", shutdown.clone(), {
        let (ctx, shutdown) = (state.jobs(), shutdown.clone());
        move || jobs::feed::run(ctx.clone(), shutdown.clone())
    }));
    let webhooks = tokio::spawn(jobs::supervise("webhook deliveries", shutdown.clone(), {
        let (ctx, shutdown) = (state.jobs(), shutdown.clone());
        move || jobs::webhooks::run(ctx.clone(), shutdown.clone())
    }));
    let retention = tokio::spawn(jobs::supervise("evidence retention", shutdown.clone(), {
        let (db, shutdown) = (state.db.clone(), shutdown.clone());
        move || jobs::retention::schedule(db.clone(), shutdown.clone())
    }));

    let served = server.await.context("server task")?;
    shutdown.cancel();
    if let Some(m) = metrics_server {
        m.await.context("metrics server task")??;
    }
    follower.await.context("change follower task")?;
    scheduler.await.context("sync scheduler task")?;
    feed.await.context("change feed task")?;
    webhooks.await.context("webhook deliveries task")?;
    retention.await.context("evidence retention task")?;
    served.context("serving HTTP")
}

/// The receipt signer: off, or with the configured key (a file, the environment; with the
/// embedded PostgreSQL, one made in the data directory on first start), published before
/// anything is signed.
async fn receipts(config: &Config, pool: &sqlx::PgPool) -> anyhow::Result<Receipts> {
    if !config.receipts {
        tracing::info!("receipts are off (TARCZA_RECEIPTS=false)");
        return Ok(Receipts::off());
    }
    let euid = embedded::current_uid();
    let key = match (&config.receipt_key, &config.receipt_key_file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "TARCZA_RECEIPT_KEY and TARCZA_RECEIPT_KEY_FILE are both set; set one of them"
        ),
        (Some(pem), None) => ReceiptKey::from_pem(pem).context("TARCZA_RECEIPT_KEY")?,
        (None, Some(path)) => receipts::keys::read_file(path, euid)
            .context("TARCZA_RECEIPT_KEY_FILE (make a key with `openssl genpkey -algorithm ed25519 -out FILE`)")?,
        // With a database of its own (DATABASE_URL) a process may have no lasting
        // directory (a container): a key of its own for as long as it runs. Its public
        // half is published like any other, so its receipts verify for ever.
        (None, None) if config.database_url.is_some() => {
            tracing::warn!(
                "no TARCZA_RECEIPT_KEY_FILE: receipts are signed with a key made for this run \
                 (a new one at every start, each published); set the variable to keep one"
            );
            ReceiptKey::generate()?
        }
        (None, None) => {
            let dir = embedded::private_dir(&config.data_dir)?;
            let path = dir.join("receipt-key.pem");
            let (key, made) = receipts::keys::read_or_create(&path, euid)?;
            if made {
                tracing::warn!(
                    path = %path.display(),
                    key_id = %key.id,
                    "made a receipt signing key; keep it safe and back it up (its public half \
                     stays published in the database, so its receipts verify even if it is lost)"
                );
            }
            key
        }
    };
    let receipts = Receipts::new(key, Some(pool.clone()));
    receipts
        .register(pool)
        .await
        .context("publishing the receipt key's public half")?;
    tracing::info!(
        key_id = receipts.key_id().unwrap_or(""),
        "receipts are signed"
    );
    Ok(receipts)
}
