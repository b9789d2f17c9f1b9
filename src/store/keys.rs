//! API keys: random tokens shown once, stored as their SHA-256.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::audit::{self, AuditEvent};
use super::bump_version;
use crate::domain::hash::hex;
use crate::domain::{Binding, Role, ScopeName};

/// Name of the key that `TARCZA_BOOTSTRAP_ADMIN_KEY` creates and refreshes.
pub const BOOTSTRAP_KEY_NAME: &str = "bootstrap-admin";
const COLUMNS: &str =
    "id, name, role, created_at, created_by, revoked_at, revoked_by, client, campaigns, may_block_global";

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<i64>,
    /// The client a bound key is bound to (README "Client-bound keys"); `None`: unbound.
    pub client: Option<String>,
    pub campaigns: Vec<String>,
    pub may_block_global: bool,
}

/// A new key: `tz_` and 48 hex digits (192 random bits).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let mut key = String::with_capacity(3 + 48);
    key.push_str("tz_");
    key.push_str(&hex(&bytes));
    key
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Creates a key; returns it with its secret, which is not stored.
pub async fn create(
    pool: &PgPool,
    actor: Option<i64>,
    name: &str,
    role: Role,
) -> Result<(ApiKey, String), sqlx::Error> {
    create_bound(pool, actor, name, role, None).await
}

/// Creates a key, bound to a client when `binding` is given (the caller has checked
/// that its role may be bound: the table refuses others).
pub async fn create_bound(
    pool: &PgPool,
    actor: Option<i64>,
    name: &str,
    role: Role,
    binding: Option<&Binding>,
) -> Result<(ApiKey, String), sqlx::Error> {
    let secret = generate_key();
    let client = binding.map(|b| b.client().as_str());
    let campaigns: Vec<&str> = binding
        .map(|b| b.campaigns().iter().map(ScopeName::as_str).collect())
        .unwrap_or_default();
    let may_block_global = binding.is_some_and(Binding::may_block_global);
    let mut tx = pool.begin().await?;
    let version = bump_version(&mut tx).await?;
    let key: ApiKey = sqlx::query_as(&format!(
        "INSERT INTO api_keys (name, role, key_hash, created_by, version, client, campaigns, \
         may_block_global) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(role.as_str())
    .bind(&hash_key(&secret)[..])
    .bind(actor)
    .bind(version)
    .bind(client)
    .bind(&campaigns)
    .bind(may_block_global)
    .fetch_one(&mut *tx)
    .await?;
    let mut after = json!({"name": name, "role": role});
    if let Some(client) = client {
        after["client"] = json!(client);
        after["campaigns"] = json!(campaigns);
        after["may_block_global"] = json!(may_block_global);
    }
    audit::record(
        &mut tx,
        AuditEvent {
            actor,
            action: "key.create",
            number: None,
            subject: Some(format!("key:{}", key.id)),
            details: json!({"after": after}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((key, secret))
}

pub async fn list(pool: &PgPool) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id"))
        .fetch_all(pool)
        .await
}

pub enum Revoked {
    Done(ApiKey),
    NotFound,
    AlreadyRevoked(ApiKey),
}

pub async fn revoke(pool: &PgPool, actor: i64, id: i64) -> Result<Revoked, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(before): Option<ApiKey> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Revoked::NotFound);
    };
    if before.revoked_at.is_some() {
        return Ok(Revoked::AlreadyRevoked(before));
    }
    let version = bump_version(&mut tx).await?;
    let key: ApiKey = sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = now(), revoked_by = $2, version = $3 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(actor)
    .bind(version)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action: "key.revoke",
            number: None,
            subject: Some(format!("key:{id}")),
            details: json!({"before": {"revoked": false}, "after": {"revoked": true}, "name": key.name}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Revoked::Done(key))
}

/// What [`bootstrap`] found, and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// There was no active bootstrap key: key `id` was made with the secret.
    Created(i64),
    /// The active bootstrap key `id` now has the secret; its old secret stops working.
    Rotated(i64),
    /// The secret already is the active bootstrap key `id`.
    Unchanged(i64),
    /// The secret is that of key `id`, which was revoked: revocation wins, it stays
    /// revoked and nothing is made.
    Revoked(i64),
    /// The secret is that of key `id`, which is not the bootstrap key: nothing is done.
    OtherKey(i64),
}

#[derive(sqlx::FromRow)]
struct SecretOwner {
    id: i64,
    name: String,
    role: String,
    revoked_at: Option<DateTime<Utc>>,
}

/// Makes `secret` a working admin key named [`BOOTSTRAP_KEY_NAME`], unless that secret
/// was revoked: a revoked key never comes back, whatever the environment says. With no
/// active bootstrap key one is created; an active one with another secret is pointed at
/// this one. A revoked bootstrap key is left as it is (its revocation is history).
/// Idempotent; concurrent start-ups of several processes make one key.
pub async fn bootstrap(pool: &PgPool, secret: &str) -> Result<Bootstrap, sqlx::Error> {
    let hash = hash_key(secret);
    let mut tx = pool.begin().await?;
    // Serialises concurrent start-ups (and orders this change among all others).
    sqlx::query("SELECT version FROM data_version FOR UPDATE")
        .execute(&mut *tx)
        .await?;
    let owner: Option<SecretOwner> =
        sqlx::query_as("SELECT id, name, role, revoked_at FROM api_keys WHERE key_hash = $1")
            .bind(&hash[..])
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(key) = owner {
        return Ok(if key.revoked_at.is_some() {
            Bootstrap::Revoked(key.id)
        } else if key.name == BOOTSTRAP_KEY_NAME && key.role == "admin" {
            Bootstrap::Unchanged(key.id)
        } else {
            Bootstrap::OtherKey(key.id)
        });
    }
    let active: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE name = $1 AND role = 'admin' AND revoked_at IS NULL \
         ORDER BY id DESC LIMIT 1 FOR UPDATE",
    )
    .bind(BOOTSTRAP_KEY_NAME)
    .fetch_optional(&mut *tx)
    .await?;
    let version = bump_version(&mut tx).await?;
    let done = match active {
        Some(id) => {
            sqlx::query("UPDATE api_keys SET key_hash = $2, version = $3 WHERE id = $1")
                .bind(id)
                .bind(&hash[..])
                .bind(version)
                .execute(&mut *tx)
                .await?;
            Bootstrap::Rotated(id)
        }
        None => Bootstrap::Created(
            sqlx::query_scalar(
                "INSERT INTO api_keys (name, role, key_hash, version) VALUES ($1, 'admin', $2, $3) \
                 RETURNING id",
            )
            .bind(BOOTSTRAP_KEY_NAME)
            .bind(&hash[..])
            .bind(version)
            .fetch_one(&mut *tx)
            .await?,
        ),
    };
    let (id, rotated) = match done {
        Bootstrap::Rotated(id) => (id, true),
        Bootstrap::Created(id) => (id, false),
        _ => unreachable!("only creation and rotation write"),
    };
    audit::record(
        &mut tx,
        AuditEvent {
            actor: None,
            action: "key.bootstrap",
            number: None,
            subject: Some(format!("key:{id}")),
            details: json!({"name": BOOTSTRAP_KEY_NAME, "rotated": rotated}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// The names of the keys with these ids (revoked ones too), for showing who did what.
pub async fn names(
    pool: &PgPool,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM api_keys WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}
