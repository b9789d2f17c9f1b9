//! The change feed: every change to the do-not-call list and every registry import going
//! live, written in the transaction that makes it (see `domain::change` for why the
//! cursor is `(version, seq)`). Also the webhooks' outbox. Rows are only ever added; old
//! ones are removed by the owner's `prune_change_history` (see `roles`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::bump_version;
use crate::domain::{ChangeAction, Cursor, PhoneNumber, Prefix, Scope};

/// A change about to be written.
#[derive(Default)]
pub struct NewChange<'a> {
    /// The entry's number, or its prefix's digits when `prefix`.
    pub number: Option<u64>,
    pub prefix: bool,
    pub entry_id: Option<i64>,
    pub client: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub source: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub actor: Option<i64>,
    pub registry: Option<&'a str>,
    pub import_id: Option<i64>,
    pub entries: Option<i64>,
}

/// Writes `change` as the next change of the current transaction, which took data
/// version `version` (from [`bump_version`]).
pub async fn record(
    conn: &mut PgConnection,
    version: i64,
    action: ChangeAction,
    change: NewChange<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO changes (version, seq, action, number, entry_id, client, campaign, reason, \
         source, external_id, expires_at, actor, registry, import_id, entries, prefix) \
         VALUES ($1, coalesce((SELECT max(seq) + 1 FROM changes WHERE version = $1), 0), \
                 $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(version)
    .bind(action.as_str())
    .bind(change.number.map(|n| n as i64))
    .bind(change.entry_id)
    .bind(change.client)
    .bind(change.campaign)
    .bind(change.reason)
    .bind(change.source)
    .bind(change.external_id)
    .bind(change.expires_at)
    .bind(change.actor)
    .bind(change.registry)
    .bind(change.import_id)
    .bind(change.entries)
    .bind(change.prefix)
    .execute(conn)
    .await?;
    Ok(())
}

/// A change as read back, with the name and role of the key that made it.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ChangeRow {
    pub version: i64,
    pub seq: i32,
    pub at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub action: ChangeAction,
    pub number: Option<i64>,
    pub prefix: bool,
    pub entry_id: Option<i64>,
    pub client: Option<String>,
    pub campaign: Option<String>,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub actor: Option<i64>,
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub registry: Option<String>,
    pub import_id: Option<i64>,
    pub entries: Option<i64>,
}

impl ChangeRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            version: self.version,
            seq: self.seq,
        }
    }

    /// The change as the feed and webhooks show it.
    pub fn view(&self) -> ChangeView<'_> {
        // A number entry's number, or a range block's prefix (`+4870`), as the entry
        // itself shows them.
        let shown = self.number.map(|n| match self.prefix {
            true => {
                Prefix::from_digits(n as u64).map_or_else(|| format!("+{n}"), |p| p.to_string())
            }
            false => PhoneNumber::from_digits(n as u64)
                .map_or_else(|| format!("+{n}"), PhoneNumber::e164),
        });
        let (number, prefix) = match self.prefix {
            true => (None, shown),
            false => (shown, None),
        };
        let scope = self.entry_id.map(|_| {
            Scope::from_parts(self.client.as_deref(), self.campaign.as_deref())
                .map_or("global", |s| s.kind())
        });
        ChangeView {
            id: self.cursor(),
            at: self.at,
            action: self.action,
            number,
            prefix,
            entry_id: self.entry_id,
            scope,
            client: self.client.as_deref(),
            campaign: self.campaign.as_deref(),
            reason: self.reason.as_deref(),
            source: self.source.as_deref(),
            external_id: self.external_id.as_deref(),
            expires_at: self.expires_at,
            actor: self.actor.map(|id| ActorView {
                id,
                name: self.actor_name.as_deref(),
                role: self.actor_role.as_deref(),
            }),
            registry: self.registry.as_deref(),
            import_id: self.import_id,
            entries: self.entries,
        }
    }
}

/// One change, as the feed answers it and webhooks deliver it. `id` is its cursor: the
/// position to read on from, and the idempotency key of its webhook event.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct ChangeView<'a> {
    /// The change's cursor (24 hex digits).
    #[schema(value_type = String, example = "00000000000000120000000a")]
    pub id: Cursor,
    pub at: DateTime<Utc>,
    /// `dnc.add`, `dnc.extend`, `dnc.expire`, `dnc.remove` or `registry.import`.
    #[schema(value_type = String, example = "dnc.add")]
    pub action: ChangeAction,
    /// The entry's number (E.164).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// A range block's prefix (instead of `number`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'a str>,
    /// Why the entry blocks; for `dnc.remove`, why it was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The key that made the change; null for the service itself (an expiry).
    pub actor: Option<ActorView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_id: Option<i64>,
    /// For a registry import: the registry's entries once it went live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<i64>,
}

/// The key that made a change.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct ActorView<'a> {
    pub id: i64,
    pub name: Option<&'a str>,
    pub role: Option<&'a str>,
}

/// At most `limit` changes after `cursor`, in commit order; only those of `actions`
/// when given.
pub async fn after(
    conn: &mut PgConnection,
    cursor: Cursor,
    limit: i64,
    actions: Option<&[String]>,
) -> Result<Vec<ChangeRow>, sqlx::Error> {
    after_for(conn, cursor, limit, actions, None).await
}

/// As [`after`], and with `visible_to` (a client's key) only what a key bound to that
/// client sees: changes of global entries and of that client's, and registry imports
/// (which name no client).
pub async fn after_for(
    conn: &mut PgConnection,
    cursor: Cursor,
    limit: i64,
    actions: Option<&[String]>,
    visible_to: Option<&str>,
) -> Result<Vec<ChangeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.version, c.seq, c.at, c.action, c.number, c.prefix, c.entry_id, c.client, c.campaign, \
                c.reason, c.source, c.external_id, c.expires_at, c.actor, \
                k.name AS actor_name, k.role AS actor_role, c.registry, c.import_id, c.entries \
         FROM changes c LEFT JOIN api_keys k ON k.id = c.actor \
         WHERE (c.version, c.seq) > ($1, $2) AND ($3::text[] IS NULL OR c.action = ANY($3)) \
           AND ($5::text IS NULL OR (c.client IS NULL AND c.campaign IS NULL) \
                OR scope_key(c.client) = $5) \
         ORDER BY c.version, c.seq LIMIT $4",
    )
    .bind(cursor.version)
    .bind(cursor.seq)
    .bind(actions)
    .bind(limit)
    .bind(visible_to)
    .fetch_all(conn)
    .await
}

/// A cursor after every change committed so far: a change whose data version is visible
/// has been committed with every change below it (versions commit in order).
pub async fn head(conn: &mut PgConnection) -> Result<Cursor, sqlx::Error> {
    let version: i64 = sqlx::query_scalar("SELECT version FROM data_version")
        .fetch_one(conn)
        .await?;
    Ok(Cursor::after_version(version))
}

/// The last change removed by retention ([`Cursor::START`] if none was): a cursor below
/// it may have missed some.
pub async fn pruned_through(conn: &mut PgConnection) -> Result<Cursor, sqlx::Error> {
    let (version, seq): (i64, i32) =
        sqlx::query_as("SELECT pruned_version, pruned_seq FROM change_feed")
            .fetch_one(conn)
            .await?;
    Ok(Cursor { version, seq })
}

/// Removes changes and delivery records older than `keep` (at least 7 days; the owner's
/// function refuses less) and returns how many changes went.
pub async fn prune(pool: &PgPool, keep: Duration) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT prune_change_history(make_interval(secs => $1))")
        .bind(keep.as_secs_f64())
        .fetch_one(pool)
        .await
}

/// How long before the recorded time an expiry is still looked for: a transaction that
/// wrote an entry expiring soon may commit after the recorder has passed that time.
const EXPIRY_OVERLAP: &str = "1 hour";

/// Records, as `dnc.expire` changes in one transaction, the entries whose `expires_at`
/// has passed since the last run (each once). Returns how many.
pub async fn record_expiries(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One recorder at a time (two leaders for a moment while leadership changes hands).
    let through: DateTime<Utc> =
        sqlx::query_scalar("SELECT expiries_through FROM change_feed FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
    let due = format!(
        "SELECT e.id, e.number, e.prefix, e.client, e.campaign, e.reason, e.source, e.external_id, \
                e.expires_at \
         FROM dnc_entries e \
         WHERE e.expires_at IS NOT NULL \
           AND e.expires_at > $1::timestamptz - interval '{EXPIRY_OVERLAP}' \
           AND e.expires_at <= now() \
           AND (e.active OR e.deactivated_at >= e.expires_at) \
           AND NOT EXISTS (SELECT 1 FROM dnc_expiries x WHERE x.entry_id = e.id)"
    );
    let any: bool = sqlx::query_scalar(&format!("SELECT EXISTS ({due})"))
        .bind(through)
        .fetch_one(&mut *tx)
        .await?;
    let mut recorded = 0;
    if any {
        let version = bump_version(&mut tx).await?;
        recorded = sqlx::query(&format!(
            "WITH due AS ({due}), \
             marked AS (INSERT INTO dnc_expiries (entry_id, version) SELECT id, $2 FROM due) \
             INSERT INTO changes (version, seq, action, number, prefix, entry_id, client, \
                                  campaign, reason, source, external_id, expires_at) \
             SELECT $2, (row_number() OVER (ORDER BY expires_at, id) - 1)::int, 'dnc.expire', \
                    number, prefix, id, client, campaign, reason, source, external_id, expires_at \
             FROM due"
        ))
        .bind(through)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    sqlx::query("UPDATE change_feed SET expiries_through = greatest(expiries_through, now())")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(recorded)
}
