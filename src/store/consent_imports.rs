//! A CRM's bulk load of consents, set-based: the rows are copied (`COPY`) into a
//! temporary table of the transaction, then compared with the file's other rows and the
//! active consents, and written in a few statements with the rules of `consents::add` for
//! each: a consent is one per number, client, purpose and evidence reference; the same
//! again (same dates and source) changes nothing, the same evidence with other dates or
//! source is a conflict. Each consent made gets its audit event (`consent.add`), all
//! under one new data version.

use serde::Serialize;
use sqlx::{PgConnection, Postgres, Transaction};

use super::bump_version;
use super::copy::{self, CopyRows};
use super::imports::Reject;
use crate::domain::NewConsent;

const CREATE_ROWS: &str = "CREATE TEMP TABLE consent_import_rows ( \
     line bigint NOT NULL, number bigint NOT NULL, client text NOT NULL, \
     client_key text NOT NULL, purpose text NOT NULL, evidence text NOT NULL, \
     source text NOT NULL, note text, given_at timestamptz NOT NULL, \
     expires_at timestamptz) ON COMMIT DROP";

/// What a load did (or, for a dry run, would do).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// Consents recorded.
    pub created: i64,
    /// Rows whose consent was already recorded, with the same dates and source.
    pub unchanged: i64,
    /// Rows repeating an earlier row's consent, with the same dates and source.
    pub duplicates: i64,
    /// Rows whose evidence is recorded (in the database, or on an earlier row) for the
    /// number, client and purpose with other dates or source: rejected.
    pub conflicts: i64,
}

/// Starts a load in `tx`: its temporary table, ready for [`start_copy`].
pub async fn begin(tx: &mut Transaction<'static, Postgres>) -> Result<(), sqlx::Error> {
    copy::temp_table(tx, CREATE_ROWS).await
}

/// Starts copying rows into the temporary table: [`row`] writes each.
pub async fn start_copy(conn: &mut PgConnection) -> Result<CopyRows<'_>, sqlx::Error> {
    CopyRows::start(
        conn,
        "COPY consent_import_rows (line, number, client, client_key, purpose, evidence, \
         source, note, given_at, expires_at) FROM STDIN",
    )
    .await
}

/// Writes the fields of the consent of line `line` (the caller ends the row).
pub fn row(copy: &mut CopyRows<'_>, line: u64, c: &NewConsent) {
    copy.raw(line)
        .raw(c.number.digits())
        .text(Some(c.client.as_str()))
        .text(Some(c.client.key()))
        .text(Some(c.purpose.as_str()))
        .text(Some(&c.evidence))
        .text(Some(&c.source))
        .text(c.note.as_deref())
        .time(Some(c.given_at))
        .time(c.expires_at);
}

/// Judges every copied row into `consent_import_plan` (`create`, `unchanged`,
/// `duplicate`, `conflict`) and counts them. For a real load, call it with the data
/// version locked (`dnc_sync::lock`), so no other write comes in between.
pub async fn plan(conn: &mut PgConnection) -> Result<Planned, sqlx::Error> {
    sqlx::query("ANALYZE consent_import_rows")
        .execute(&mut *conn)
        .await?;
    // Per consent (number, client, purpose, evidence) the file's first row decides; a later
    // row is its duplicate or, with other dates or source, a conflict. The first row is
    // compared with the active consent of the same evidence, as `POST /v1/consents` is.
    sqlx::query(
        "CREATE TEMP TABLE consent_import_plan ON COMMIT DROP AS \
         SELECT r.*, f.line AS first_line, c.id AS existing_id, \
                CASE WHEN r.line <> f.line THEN \
                          CASE WHEN (r.given_at, r.expires_at, r.source) \
                                    IS NOT DISTINCT FROM (f.given_at, f.expires_at, f.source) \
                               THEN 'duplicate' ELSE 'conflict' END \
                     WHEN c.id IS NULL THEN 'create' \
                     WHEN (r.given_at, r.expires_at, r.source) \
                          IS NOT DISTINCT FROM (c.given_at, c.expires_at, c.source) \
                          THEN 'unchanged' \
                     ELSE 'conflict' END AS action \
         FROM consent_import_rows r \
         JOIN (SELECT DISTINCT ON (number, client_key, purpose, evidence) * \
               FROM consent_import_rows \
               ORDER BY number, client_key, purpose, evidence, line) f \
           ON f.number = r.number AND f.client_key = r.client_key AND f.purpose = r.purpose \
          AND f.evidence = r.evidence \
         LEFT JOIN consents c \
           ON r.line = f.line AND c.number = r.number AND c.client_key = r.client_key \
          AND c.purpose = r.purpose AND c.evidence = r.evidence AND c.withdrawn_at IS NULL",
    )
    .execute(&mut *conn)
    .await?;
    let (created, unchanged, duplicates, conflicts): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE action = 'create'), \
                count(*) FILTER (WHERE action = 'unchanged'), \
                count(*) FILTER (WHERE action = 'duplicate'), \
                count(*) FILTER (WHERE action = 'conflict') \
         FROM consent_import_plan",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Planned {
        created,
        unchanged,
        duplicates,
        conflicts,
    })
}

/// The first `limit` conflicting rows of the plan, as line-numbered rejects.
pub async fn conflicts(conn: &mut PgConnection, limit: i64) -> Result<Vec<Reject>, sqlx::Error> {
    let rows: Vec<(i64, i64, Option<i64>, i64, String)> = sqlx::query_as(
        "SELECT line, first_line, existing_id, number, evidence FROM consent_import_plan \
         WHERE action = 'conflict' ORDER BY line LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(line, first, existing, number, evidence)| {
            let message = match existing {
                Some(id) if line == first => format!(
                    "consent {id} has evidence {evidence:?} for the number, client and purpose \
                     with other dates or source; withdraw it first or use another evidence \
                     reference"
                ),
                _ => format!(
                    "line {first} has evidence {evidence:?} for the number, client and purpose \
                     with other dates or source"
                ),
            };
            Reject {
                line,
                raw: format!("+{number}"),
                reason: "consent_conflict".into(),
                message,
            }
        })
        .collect())
}

/// Writes the plan's new consents, each with its audit event (`import` in its details
/// names the load), under one new data version. Returns that version (`None` when there
/// was nothing to record).
pub async fn write(
    conn: &mut PgConnection,
    actor: i64,
    planned: &Planned,
    import: &str,
) -> Result<Option<i64>, sqlx::Error> {
    if planned.created == 0 {
        return Ok(None);
    }
    let version = bump_version(conn).await?;
    sqlx::query(
        "INSERT INTO consents (number, client, purpose, evidence, source, note, given_at, \
                               expires_at, created_by, version) \
         SELECT number, client, purpose, evidence, source, note, given_at, expires_at, $1, $2 \
         FROM consent_import_plan WHERE action = 'create' ORDER BY line",
    )
    .bind(actor)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    // The new consents are the ones of this version: a load withdraws nothing.
    sqlx::query(
        "INSERT INTO audit_log (actor, action, number, subject, details) \
         SELECT $1, 'consent.add', number, 'consent:' || id, \
                jsonb_build_object('after', jsonb_build_object('client', client, \
                    'purpose', purpose, 'evidence', evidence, 'source', source, \
                    'given_at', given_at, 'expires_at', expires_at), 'import', $3::text) \
         FROM consents WHERE version = $2 ORDER BY id",
    )
    .bind(actor)
    .bind(version)
    .bind(import)
    .execute(&mut *conn)
    .await?;
    Ok(Some(version))
}
