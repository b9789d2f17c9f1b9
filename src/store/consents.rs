//! Consents: recorded, read, withdrawn. Nothing here deletes a row; a withdrawal keeps
//! the record and says who withdrew it, when and why.
//!
//! [`add_in`] takes a connection, so a bulk loader (a CRM export of consents, through
//! the bulk-sync reader) can record many consents in one transaction, each with its
//! audit event, by calling it for every row; the index then picks them all up at once.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::audit::{self, AuditEvent};
use super::{bump_version, is_unique_violation};
use crate::domain::NewConsent;

const UNIQUE_ACTIVE: &str = "consents_active_evidence_unique";
const COLUMNS: &str = "id, number, client, purpose, evidence, source, note, given_at, \
     expires_at, created_at, created_by, withdrawn_at, withdrawn_by, withdrawal_reason";

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Consent {
    pub id: i64,
    pub number: i64,
    pub client: String,
    pub purpose: String,
    pub evidence: String,
    pub source: String,
    pub note: Option<String>,
    pub given_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<i64>,
    pub withdrawal_reason: Option<String>,
}

impl Consent {
    /// Whether the consent counts at `now`: not withdrawn, already given, not expired.
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.withdrawn_at.is_none()
            && self.given_at <= now
            && self.expires_at.is_none_or(|t| t > now)
    }
}

pub enum Added {
    /// A new consent was recorded.
    Created(Consent),
    /// The same consent (number, client, purpose and evidence, with the same dates and
    /// source) is already recorded; nothing changed.
    Existing(Consent),
    /// A consent with that evidence is already recorded for the number, client and
    /// purpose, with other dates or source: nothing changed.
    Conflict(Consent),
}

/// Records a consent, idempotently per number, client, purpose and evidence reference.
pub async fn add(pool: &PgPool, actor: i64, new: &NewConsent) -> Result<Added, sqlx::Error> {
    // Two requests with one consent at once: one insert wins, the other sees the unique
    // violation and, on the next round, finds the winner's record.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = pool.begin().await?;
        match add_in(&mut tx, actor, new).await {
            Ok(added) => {
                tx.commit().await?;
                return Ok(added);
            }
            Err(e) if attempt < 3 && is_unique_violation(&e, UNIQUE_ACTIVE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// [`add`] within the caller's transaction: the row, a version bump (announced on
/// commit) and the audit event `consent.add`.
pub async fn add_in(
    conn: &mut PgConnection,
    actor: i64,
    new: &NewConsent,
) -> Result<Added, sqlx::Error> {
    let digits = new.number.digits() as i64;
    let existing: Option<Consent> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM consents WHERE number = $1 AND client_key = $2 AND purpose = $3 \
         AND evidence = $4 AND withdrawn_at IS NULL FOR UPDATE"
    ))
    .bind(digits)
    .bind(new.client.key())
    .bind(new.purpose.as_str())
    .bind(&new.evidence)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(existing) = existing {
        let same = existing.given_at == new.given_at
            && existing.expires_at == new.expires_at
            && existing.source == new.source;
        return Ok(if same {
            Added::Existing(existing)
        } else {
            Added::Conflict(existing)
        });
    }
    let version = bump_version(conn).await?;
    let consent: Consent = sqlx::query_as(&format!(
        "INSERT INTO consents (number, client, purpose, evidence, source, note, given_at, \
         expires_at, created_by, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING {COLUMNS}"
    ))
    .bind(digits)
    .bind(new.client.as_str())
    .bind(new.purpose.as_str())
    .bind(&new.evidence)
    .bind(&new.source)
    .bind(&new.note)
    .bind(new.given_at)
    .bind(new.expires_at)
    .bind(actor)
    .bind(version)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        AuditEvent {
            actor: Some(actor),
            action: "consent.add",
            number: Some(new.number.digits()),
            subject: Some(format!("consent:{}", consent.id)),
            details: json!({"after": {"client": consent.client, "purpose": consent.purpose,
                "evidence": consent.evidence, "source": consent.source,
                "given_at": consent.given_at, "expires_at": consent.expires_at}}),
        },
    )
    .await?;
    Ok(Added::Created(consent))
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Consent>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM consents WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// What to list; `number` or `client_key` (or both) is set.
pub struct ListQuery<'a> {
    pub number: Option<u64>,
    pub client_key: Option<&'a str>,
    pub purpose: Option<&'a str>,
    /// Only consents with an id below this one (for paging back).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Consents matching `q`, newest first.
pub async fn list(pool: &PgPool, q: &ListQuery<'_>) -> Result<Vec<Consent>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM consents \
         WHERE ($1::bigint IS NULL OR number = $1) AND ($2::text IS NULL OR client_key = $2) \
           AND ($3::text IS NULL OR purpose = $3) AND ($4::bigint IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5"
    ))
    .bind(q.number.map(|n| n as i64))
    .bind(q.client_key)
    .bind(q.purpose)
    .bind(q.before_id)
    .bind(q.limit)
    .fetch_all(pool)
    .await
}

pub enum Withdrawn {
    Done(Consent),
    NotFound,
    AlreadyWithdrawn(Consent),
}

/// Withdraws a consent (never erases it), recording who, when and why.
pub async fn withdraw(
    pool: &PgPool,
    actor: i64,
    id: i64,
    reason: &str,
) -> Result<Withdrawn, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(before): Option<Consent> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM consents WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Withdrawn::NotFound);
    };
    if before.withdrawn_at.is_some() {
        return Ok(Withdrawn::AlreadyWithdrawn(before));
    }
    let version = bump_version(&mut tx).await?;
    let consent: Consent = sqlx::query_as(&format!(
        "UPDATE consents SET withdrawn_at = now(), withdrawn_by = $2, withdrawal_reason = $3, \
         version = $4 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(actor)
    .bind(reason)
    .bind(version)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action: "consent.withdraw",
            number: Some(consent.number as u64),
            subject: Some(format!("consent:{id}")),
            details: json!({"reason": reason, "client": consent.client,
                "purpose": consent.purpose, "before": {"withdrawn": false},
                "after": {"withdrawn": true}}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Withdrawn::Done(consent))
}
