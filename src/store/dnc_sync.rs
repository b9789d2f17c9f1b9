//! A CRM's bulk sync of do-not-call flags, set-based: the rows are copied (`COPY`) into a
//! temporary table of the transaction, then compared with the active entries and written
//! in a few statements, with the rules of `dnc::add` for each (idempotent per number and
//! scope, a re-add never shortens a block, an expired entry is closed and replaced), an
//! audit event and a change-feed row per entry made or extended. Additive only: nothing
//! here deactivates an entry that is not in the file.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, Transaction};

use super::bump_version;
use super::copy::{self, CopyRows};
use crate::domain::{PhoneNumber, Scope};

/// The rows of the sync being read, one per valid line of the file.
const CREATE_ROWS: &str = "CREATE TEMP TABLE dnc_sync_rows ( \
     line bigint NOT NULL, number bigint NOT NULL, client text, campaign text, \
     client_key text NOT NULL, campaign_key text NOT NULL, reason text, source text, \
     external_id text, expires_at timestamptz) ON COMMIT DROP";

/// What a sync did (or, for a dry run, would do).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// Entries made (a number and scope with no active entry, or only an expired one).
    pub created: i64,
    /// Active entries whose block now lasts longer (the file asked for longer).
    pub extended: i64,
    /// Rows whose number was already blocked in that scope for as long or longer.
    pub unchanged: i64,
    /// Rows repeating a number and scope of an earlier row (the longest block counts).
    pub duplicates: i64,
}

/// Starts a sync in `tx`: its temporary table, ready for [`start_copy`].
pub async fn begin(tx: &mut Transaction<'static, Postgres>) -> Result<(), sqlx::Error> {
    copy::temp_table(tx, CREATE_ROWS).await
}

/// Starts copying rows into the temporary table: [`row`] writes each.
pub async fn start_copy(conn: &mut PgConnection) -> Result<CopyRows<'_>, sqlx::Error> {
    CopyRows::start(
        conn,
        "COPY dnc_sync_rows (line, number, client, campaign, client_key, campaign_key, \
         reason, source, external_id, expires_at) FROM STDIN",
    )
    .await
}

/// Writes one row's fields (the caller ends the row).
#[allow(clippy::too_many_arguments)]
pub fn row(
    copy: &mut CopyRows<'_>,
    line: u64,
    number: PhoneNumber,
    scope: &Scope,
    reason: Option<&str>,
    source: &str,
    external_id: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) {
    copy.raw(line)
        .raw(number.digits())
        .text(scope.client())
        .text(scope.campaign())
        .text(Some(scope.client_key().unwrap_or("")))
        .text(Some(scope.campaign_key().unwrap_or("")))
        .text(reason)
        .text(Some(source))
        .text(external_id)
        .time(expires_at);
}

/// Compares the copied rows with the active entries: `dnc_sync_plan` holds, per number
/// and scope, the longest block the file asks for and what it comes to (`create`,
/// `replace` an expired entry, `extend`, `unchanged`). For a real sync, call it with the
/// data version locked ([`lock`]), so no other write comes in between.
pub async fn plan(conn: &mut PgConnection) -> Result<Planned, sqlx::Error> {
    // Per number and scope the longest block asked for (no expiry, else the latest),
    // against the active entry of that number and scope.
    sqlx::query("ANALYZE dnc_sync_rows")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "CREATE TEMP TABLE dnc_sync_plan ON COMMIT DROP AS \
         SELECT b.*, e.id AS existing_id, e.expires_at AS existing_expires_at, \
                CASE WHEN e.id IS NULL THEN 'create' \
                     WHEN e.expires_at IS NULL THEN 'unchanged' \
                     WHEN e.expires_at <= now() THEN 'replace' \
                     WHEN b.expires_at IS NOT NULL AND b.expires_at <= e.expires_at THEN 'unchanged' \
                     ELSE 'extend' END AS action \
         FROM (SELECT DISTINCT ON (number, client_key, campaign_key) * FROM dnc_sync_rows \
               ORDER BY number, client_key, campaign_key, expires_at DESC NULLS FIRST, line) b \
         LEFT JOIN dnc_entries e \
           ON e.number = b.number AND NOT e.prefix AND e.active \
          AND coalesce(e.client_key, '') = b.client_key \
          AND coalesce(e.campaign_key, '') = b.campaign_key",
    )
    .execute(&mut *conn)
    .await?;
    let (rows, created, extended, unchanged): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM dnc_sync_rows), \
                count(*) FILTER (WHERE action IN ('create', 'replace')), \
                count(*) FILTER (WHERE action = 'extend'), \
                count(*) FILTER (WHERE action = 'unchanged') \
         FROM dnc_sync_plan",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Planned {
        created,
        extended,
        unchanged,
        duplicates: rows - created - extended - unchanged,
    })
}

/// Takes the data version's row lock (every write takes it: `bump_version`) without
/// moving the version, so a sync that changes nothing leaves it as it was.
pub async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT version FROM data_version FOR UPDATE")
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the plan: closes the expired entries it replaces, extends and creates, each
/// with its audit event (`import` in its details names the sync) and change-feed row,
/// under one new data version. Returns that version (`None` when nothing changed).
pub async fn write(
    conn: &mut PgConnection,
    actor: i64,
    planned: &Planned,
    import: &str,
) -> Result<Option<i64>, sqlx::Error> {
    if planned.created == 0 && planned.extended == 0 {
        return Ok(None);
    }
    let version = bump_version(conn).await?;
    sqlx::query(
        "UPDATE dnc_entries e SET active = false, deactivated_at = now(), deactivated_by = $1, \
         deactivation_reason = 'expired; superseded by a new entry', version = $2 \
         FROM dnc_sync_plan p WHERE p.action = 'replace' AND e.id = p.existing_id",
    )
    .bind(actor)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    // Each step a statement of its own (one statement of chained CTEs runs slower on a
    // million rows). The extended entries are noted in a temporary table; the new ones
    // are read back by their version: active, and made by this transaction (`created_at`
    // is its start), which the closed and the extended ones were not.
    sqlx::query(
        "CREATE TEMP TABLE dnc_sync_extended ON COMMIT DROP AS \
         WITH up AS ( \
             UPDATE dnc_entries e SET expires_at = p.expires_at, version = $1 \
             FROM dnc_sync_plan p WHERE p.action = 'extend' AND e.id = p.existing_id \
             RETURNING e.id, p.existing_expires_at) \
         SELECT * FROM up",
    )
    .bind(version)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO dnc_entries (number, client, campaign, reason, source, expires_at, \
                                  created_by, version, prefix, external_id) \
         SELECT number, client, campaign, reason, source, expires_at, $1, $2, false, external_id \
         FROM dnc_sync_plan WHERE action IN ('create', 'replace')",
    )
    .bind(actor)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    const WRITTEN: &str = "SELECT e.*, x.existing_expires_at, \
             CASE WHEN x.id IS NULL THEN 'dnc.add' ELSE 'dnc.extend' END AS what \
         FROM dnc_entries e LEFT JOIN dnc_sync_extended x ON x.id = e.id \
         WHERE e.version = $2 AND e.active AND NOT e.prefix \
           AND (x.id IS NOT NULL OR e.created_at = now())";
    sqlx::query(&format!(
        "INSERT INTO audit_log (actor, action, number, subject, details) \
         SELECT $1, what, number, 'dnc:' || id, \
                CASE WHEN what = 'dnc.extend' THEN jsonb_build_object( \
                         'before', jsonb_build_object('expires_at', existing_expires_at), \
                         'after', jsonb_build_object('expires_at', expires_at), 'import', $3::text) \
                     ELSE jsonb_build_object('after', jsonb_build_object( \
                         'scope', CASE WHEN campaign IS NOT NULL THEN 'campaign' \
                                       WHEN client IS NOT NULL THEN 'client' ELSE 'global' END, \
                         'client', client, 'campaign', campaign, 'reason', reason, \
                         'source', source, 'expires_at', expires_at, 'external_id', external_id), \
                         'import', $3::text) END \
         FROM ({WRITTEN}) w"
    ))
    .bind(actor)
    .bind(version)
    .bind(import)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO changes (version, seq, action, number, prefix, entry_id, client, campaign, \
                              reason, source, external_id, expires_at, actor) \
         SELECT $2, (row_number() OVER () - 1)::int, what, number, false, id, client, campaign, \
                reason, source, external_id, expires_at, $1 \
         FROM ({WRITTEN}) w"
    ))
    .bind(actor)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(Some(version))
}
