//! The internal do-not-call list: entries of one number, and prefix entries that block
//! every number starting with their digits (`prefix` set). Nothing here ever deletes a
//! row.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};

use super::audit::{self, AuditEvent};
use super::changes::{self, NewChange};
use super::{bump_version, is_unique_violation};
use crate::domain::{ChangeAction, PhoneNumber, Prefix, Scope, Target};

const UNIQUE_ACTIVE: &str = "dnc_entries_active_scope_unique";
const COLUMNS: &str =
    "id, number, prefix, client, campaign, reason, source, note, expires_at, created_at, \
     created_by, active, deactivated_at, deactivated_by, deactivation_reason, external_id";

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct DncEntry {
    pub id: i64,
    /// The number's digits, or the prefix's when `prefix` is set.
    pub number: i64,
    pub prefix: bool,
    pub client: Option<String>,
    pub campaign: Option<String>,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub deactivated_by: Option<i64>,
    pub deactivation_reason: Option<String>,
    /// The CRM's own id of the flag that made the entry (bulk sync).
    pub external_id: Option<String>,
}

impl DncEntry {
    /// The change made to this entry by `actor`, for the change feed.
    pub fn change(&self, actor: Option<i64>) -> NewChange<'_> {
        NewChange {
            number: Some(self.number as u64),
            prefix: self.prefix,
            entry_id: Some(self.id),
            client: self.client.as_deref(),
            campaign: self.campaign.as_deref(),
            reason: self.reason.as_deref(),
            source: self.source.as_deref(),
            external_id: self.external_id.as_deref(),
            expires_at: self.expires_at,
            actor,
            ..NewChange::default()
        }
    }

    pub fn scope(&self) -> Scope {
        Scope::from_parts(self.client.as_deref(), self.campaign.as_deref()).unwrap_or(Scope::Global)
    }

    /// What the entry blocks, read back from its digits (`None` only for a row that no
    /// longer fits the rules, which the table's constraint prevents).
    pub fn target(&self) -> Option<Target> {
        let digits = u64::try_from(self.number).ok()?;
        if self.prefix {
            Prefix::from_digits(digits).map(Target::Prefix)
        } else {
            PhoneNumber::from_digits(digits).map(Target::Number)
        }
    }

    /// The number, for the audit log's number column: prefix entries have none.
    fn audit_number(&self) -> Option<u64> {
        (!self.prefix).then_some(self.number as u64)
    }
}

pub struct NewEntry {
    /// The number or the prefix it blocks.
    pub target: Target,
    pub scope: Scope,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub external_id: Option<String>,
}

pub enum Added {
    /// A new entry was made.
    Created(DncEntry),
    /// The number was already blocked in that scope; nothing changed.
    Existing(DncEntry),
    /// The number was already blocked in that scope until an earlier time; the block now
    /// lasts as long as the new request asked (a re-add never shortens a block).
    Extended(DncEntry),
}

/// Adds a do-not-call entry, idempotently per number and scope.
pub async fn add(pool: &PgPool, actor: i64, new: &NewEntry) -> Result<Added, sqlx::Error> {
    // Two agents adding the same number at once: one insert wins, the other sees the
    // unique violation and, on the next round, finds the winner's entry.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = pool.begin().await?;
        match add_once(&mut tx, actor, new).await {
            Ok(added) => {
                tx.commit().await?;
                return Ok(added);
            }
            Err(e) if attempt < 3 && is_unique_violation(&e, UNIQUE_ACTIVE) => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn add_once(
    conn: &mut PgConnection,
    actor: i64,
    new: &NewEntry,
) -> Result<Added, sqlx::Error> {
    let digits = new.target.digits() as i64;
    let prefix = new.target.is_prefix();
    // Scopes compare by their keys (the database computes the same ones: migration 0004).
    let existing: Option<DncEntry> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM dnc_entries WHERE number = $1 AND prefix = $4 \
         AND coalesce(client_key, '') = $2 AND coalesce(campaign_key, '') = $3 AND active \
         FOR UPDATE"
    ))
    .bind(digits)
    .bind(new.scope.client_key().unwrap_or(""))
    .bind(new.scope.campaign_key().unwrap_or(""))
    .bind(prefix)
    .fetch_optional(&mut *conn)
    .await?;

    let now = Utc::now();
    if let Some(existing) = existing {
        match existing.expires_at {
            // Still blocking for as long as asked, or longer: nothing to do.
            None => return Ok(Added::Existing(existing)),
            Some(t) if t > now && new.expires_at.is_some_and(|n| n <= t) => {
                return Ok(Added::Existing(existing))
            }
            // Still blocking, but the new request wants longer: extend.
            Some(t) if t > now => {
                let version = bump_version(conn).await?;
                let entry: DncEntry = sqlx::query_as(&format!(
                    "UPDATE dnc_entries SET expires_at = $2, version = $3 WHERE id = $1 RETURNING {COLUMNS}"
                ))
                .bind(existing.id)
                .bind(new.expires_at)
                .bind(version)
                .fetch_one(&mut *conn)
                .await?;
                audit::record(
                    conn,
                    AuditEvent {
                        actor: Some(actor),
                        action: "dnc.extend",
                        number: entry.audit_number(),
                        subject: Some(format!("dnc:{}", entry.id)),
                        details: with_prefix(
                            &entry,
                            json!({"before": {"expires_at": existing.expires_at},
                                        "after": {"expires_at": entry.expires_at}}),
                        ),
                    },
                )
                .await?;
                let change = entry.change(Some(actor));
                changes::record(conn, version, ChangeAction::DncExtend, change).await?;
                return Ok(Added::Extended(entry));
            }
            // Expired: close it, then make a new entry below.
            Some(_) => {
                let version = bump_version(conn).await?;
                sqlx::query(
                    "UPDATE dnc_entries SET active = false, deactivated_at = now(), \
                     deactivated_by = $2, deactivation_reason = 'expired; superseded by a new entry', \
                     version = $3 WHERE id = $1",
                )
                .bind(existing.id)
                .bind(actor)
                .bind(version)
                .execute(&mut *conn)
                .await?;
            }
        }
    }

    let version = bump_version(conn).await?;
    let entry: DncEntry = sqlx::query_as(&format!(
        "INSERT INTO dnc_entries (number, client, campaign, reason, source, note, expires_at, created_by, version, prefix, external_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
    ))
    .bind(digits)
    .bind(new.scope.client())
    .bind(new.scope.campaign())
    .bind(&new.reason)
    .bind(&new.source)
    .bind(&new.note)
    .bind(new.expires_at)
    .bind(actor)
    .bind(version)
    .bind(prefix)
    .bind(&new.external_id)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        AuditEvent {
            actor: Some(actor),
            action: "dnc.add",
            number: entry.audit_number(),
            subject: Some(format!("dnc:{}", entry.id)),
            details: with_prefix(
                &entry,
                json!({"after": {"scope": entry.scope().kind(), "client": entry.client,
                "campaign": entry.campaign, "reason": entry.reason, "source": entry.source,
                "expires_at": entry.expires_at, "external_id": entry.external_id}}),
            ),
        },
    )
    .await?;
    let change = entry.change(Some(actor));
    changes::record(conn, version, ChangeAction::DncAdd, change).await?;
    Ok(Added::Created(entry))
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<DncEntry>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM dnc_entries WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Audit details of a prefix entry name the prefix (`"prefix": "+4870"`), since the
/// event has no number.
fn with_prefix(entry: &DncEntry, mut details: Value) -> Value {
    if entry.prefix {
        details["prefix"] = json!(format!("+{}", entry.number));
    }
    details
}

pub enum Deactivated {
    Done(DncEntry),
    NotFound,
    AlreadyInactive(DncEntry),
}

/// Deactivates an entry (never erases it), recording who, when and why.
pub async fn deactivate(
    pool: &PgPool,
    actor: i64,
    id: i64,
    reason: &str,
) -> Result<Deactivated, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(before): Option<DncEntry> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM dnc_entries WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Deactivated::NotFound);
    };
    if !before.active {
        return Ok(Deactivated::AlreadyInactive(before));
    }
    let version = bump_version(&mut tx).await?;
    let entry: DncEntry = sqlx::query_as(&format!(
        "UPDATE dnc_entries SET active = false, deactivated_at = now(), deactivated_by = $2, \
         deactivation_reason = $3, version = $4 WHERE id = $1 RETURNING {COLUMNS}"
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
            action: "dnc.remove",
            number: entry.audit_number(),
            subject: Some(format!("dnc:{id}")),
            details: with_prefix(
                &entry,
                json!({"reason": reason, "before": {"active": true}, "after": {"active": false}}),
            ),
        },
    )
    .await?;
    let change = NewChange {
        reason: Some(reason),
        ..entry.change(Some(actor))
    };
    changes::record(&mut tx, version, ChangeAction::DncRemove, change).await?;
    tx.commit().await?;
    Ok(Deactivated::Done(entry))
}

/// What an entry is doing now: blocking, past its `expires_at`, or deactivated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    Active,
    Expired,
    Removed,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Active => "active",
            EntryState::Expired => "expired",
            EntryState::Removed => "removed",
        }
    }
}

impl std::str::FromStr for EntryState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(EntryState::Active),
            "expired" => Ok(EntryState::Expired),
            "removed" => Ok(EntryState::Removed),
            _ => Err(format!(
                "state={s:?} is not known; use active, expired or removed"
            )),
        }
    }
}

/// Which entries to list; every filter is optional. Client and campaign are compared
/// by their keys (as scopes are).
#[derive(Debug, Default, Clone)]
pub struct DncFilter {
    /// The number's own entries and the prefix entries that cover it.
    pub number: Option<PhoneNumber>,
    /// The entries of exactly this prefix.
    pub prefix: Option<Prefix>,
    /// `Some(true)`: prefix entries only; `Some(false)`: number entries only.
    pub prefix_entries: Option<bool>,
    /// `global`, `client` or `campaign`.
    pub scope: Option<&'static str>,
    pub client_key: Option<String>,
    pub campaign_key: Option<String>,
    pub state: Option<EntryState>,
    /// Compared case-insensitively.
    pub source: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Only entries with an id below this one (paging back).
    pub before_id: Option<i64>,
    /// Only what a key bound to this client (its key) sees: global entries and this
    /// client's (`Binding::sees`).
    pub visible_to: Option<String>,
}

/// Entries matching `filter`, newest first, at most `limit` (`None`: all).
pub async fn search(
    pool: &PgPool,
    filter: &DncFilter,
    limit: Option<i64>,
) -> Result<Vec<DncEntry>, sqlx::Error> {
    let covering: Vec<i64> = filter
        .number
        .into_iter()
        .flat_map(Prefix::all_of)
        .map(|p| p.digits() as i64)
        .collect();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM dnc_entries \
         WHERE ($1::bigint IS NULL OR (number = $1 AND NOT prefix) \
                OR (prefix AND number = ANY($11))) \
           AND ($12::bigint IS NULL OR (number = $12 AND prefix)) \
           AND ($13::boolean IS NULL OR prefix = $13) \
           AND ($2::text IS NULL OR $2 = CASE WHEN campaign IS NOT NULL THEN 'campaign' \
                WHEN client IS NOT NULL THEN 'client' ELSE 'global' END) \
           AND ($3::text IS NULL OR client_key = $3) \
           AND ($4::text IS NULL OR campaign_key = $4) \
           AND ($5::text IS NULL OR $5 = CASE WHEN NOT active THEN 'removed' \
                WHEN expires_at <= now() THEN 'expired' ELSE 'active' END) \
           AND ($6::text IS NULL OR lower(source) = lower($6)) \
           AND ($7::timestamptz IS NULL OR created_at >= $7) \
           AND ($8::timestamptz IS NULL OR created_at < $8) \
           AND ($9::bigint IS NULL OR id < $9) \
           AND ($14::text IS NULL OR client_key = $14 \
                OR (client_key IS NULL AND campaign_key IS NULL)) \
         ORDER BY id DESC LIMIT $10"
    ))
    .bind(filter.number.map(|n| n.digits() as i64))
    .bind(filter.scope)
    .bind(&filter.client_key)
    .bind(&filter.campaign_key)
    .bind(filter.state.map(EntryState::as_str))
    .bind(&filter.source)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.before_id)
    .bind(limit)
    .bind(covering)
    .bind(filter.prefix.map(|p| p.digits() as i64))
    .bind(filter.prefix_entries)
    .bind(&filter.visible_to)
    .fetch_all(pool)
    .await
}
