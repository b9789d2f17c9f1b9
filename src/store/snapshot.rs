//! The reads a snapshot is built from (see `index::refresh`): all in one read-only,
//! repeatable-read transaction, so a snapshot is the database as of one moment.

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

#[derive(sqlx::FromRow)]
pub struct DncRow {
    pub id: i64,
    /// The number's digits, or the prefix's when `prefix` is set.
    pub number: i64,
    pub prefix: bool,
    pub client: Option<String>,
    pub campaign: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
}

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub key_hash: Vec<u8>,
    pub client: Option<String>,
    pub campaigns: Vec<String>,
    pub may_block_global: bool,
}

#[derive(sqlx::FromRow)]
pub struct RegistryRow {
    pub id: i32,
    pub name: String,
    pub version: i64,
    pub generation: Option<i64>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub source_time: Option<DateTime<Utc>>,
    pub last_import_id: Option<i64>,
    pub hash_scheme: Option<String>,
}

/// A transaction that sees the database as of one moment and writes nothing.
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The data version: every committed change bumps it.
pub async fn version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM data_version")
        .fetch_one(conn)
        .await
}

/// Whether any API key changed after version `since`.
pub async fn keys_changed(conn: &mut PgConnection, since: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE version > $1)")
        .bind(since)
        .fetch_one(conn)
        .await
}

/// The keys that are not revoked.
pub async fn active_keys(conn: &mut PgConnection) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, role, key_hash, client, campaigns, may_block_global FROM api_keys \
         WHERE revoked_at IS NULL",
    )
    .fetch_all(conn)
    .await
}

const DNC_COLUMNS: &str = "id, number, prefix, client, campaign, reason, expires_at, active";

/// Every active do-not-call entry.
pub async fn active_dnc(conn: &mut PgConnection) -> Result<Vec<DncRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DNC_COLUMNS} FROM dnc_entries WHERE active"
    ))
    .fetch_all(conn)
    .await
}

/// The do-not-call entries changed after version `since` (active or not), by id.
pub async fn dnc_changed(conn: &mut PgConnection, since: i64) -> Result<Vec<DncRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DNC_COLUMNS} FROM dnc_entries WHERE version > $1 ORDER BY id"
    ))
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Every registry, by name.
pub async fn registries(conn: &mut PgConnection) -> Result<Vec<RegistryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, version, generation, loaded_at, source_time, last_import_id, \
         hash_scheme FROM registries ORDER BY name",
    )
    .fetch_all(conn)
    .await
}

/// What the index keeps of a consent: who may call the number, for what, from when to
/// when. Client names come as their keys (they compare by them).
#[derive(sqlx::FromRow)]
pub struct ConsentRow {
    pub id: i64,
    pub number: i64,
    pub client_key: String,
    pub purpose: String,
    pub given_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub withdrawn: bool,
}

const CONSENT_COLUMNS: &str = "id, number, client_key, purpose, given_at, expires_at, \
     withdrawn_at IS NOT NULL AS withdrawn";

/// Every consent that is neither withdrawn nor expired, streamed (there may be
/// millions; the index keeps a compact copy, not the rows).
pub fn valid_consents(conn: &mut PgConnection) -> BoxStream<'_, Result<ConsentRow, sqlx::Error>> {
    sqlx::query_as(
        "SELECT id, number, client_key, purpose, given_at, expires_at, false AS withdrawn \
         FROM consents WHERE withdrawn_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
    )
    .fetch(conn)
}

/// How many consents changed after version `since`.
pub async fn consents_changed_count(
    conn: &mut PgConnection,
    since: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM consents WHERE version > $1")
        .bind(since)
        .fetch_one(conn)
        .await
}

/// The consents changed after version `since` (added or withdrawn), by id.
pub async fn consents_changed(
    conn: &mut PgConnection,
    since: i64,
) -> Result<Vec<ConsentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONSENT_COLUMNS} FROM consents WHERE version > $1 ORDER BY id"
    ))
    .bind(since)
    .fetch_all(conn)
    .await
}

#[derive(sqlx::FromRow)]
pub struct PolicyRow {
    pub client: String,
    pub client_key: String,
    pub campaign: Option<String>,
    pub campaign_key: Option<String>,
    pub consent_required: bool,
    pub purpose: String,
}

/// Whether any policy changed after version `since`.
pub async fn policies_changed(conn: &mut PgConnection, since: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM policies WHERE version > $1)")
        .bind(since)
        .fetch_one(conn)
        .await
}

/// Every policy (a few per client at most).
pub async fn policies(conn: &mut PgConnection) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT client, client_key, campaign, campaign_key, consent_required, purpose \
         FROM policies WHERE removed_at IS NULL ORDER BY id",
    )
    .fetch_all(conn)
    .await
}
