//! The append-only audit trail (the database refuses UPDATE, DELETE and TRUNCATE on it).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// One audited act. `number` is set when the act concerns a phone number, so
/// "who blocked or unblocked this number" is one indexed query.
pub struct AuditEvent<'a> {
    pub actor: Option<i64>,
    pub action: &'a str,
    pub number: Option<u64>,
    pub subject: Option<String>,
    pub details: Value,
}

pub async fn record(conn: &mut PgConnection, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, number, subject, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.actor)
    .bind(event.action)
    .bind(event.number.map(|n| n as i64))
    .bind(event.subject)
    .bind(event.details)
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the audit log as read back, with the actor's key name and role.
#[derive(sqlx::FromRow, Debug)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<i64>,
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub number: Option<i64>,
    pub subject: Option<String>,
    pub details: Value,
}

/// What to read from the audit log; every filter is optional.
#[derive(Debug, Default)]
pub struct AuditQuery {
    pub number: Option<u64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events with an id below this one (for paging back in time).
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Only this action (`dnc.remove`), or with [`AuditQuery::action_prefix`] those
    /// starting with it (`dnc.`).
    pub action: Option<String>,
    pub action_prefix: bool,
    /// Only acts of the key with this id.
    pub actor_id: Option<i64>,
    /// Only acts of keys with this name (compared case-insensitively).
    pub actor_name: Option<String>,
}

/// Events matching `q`, newest first.
pub async fn search(pool: &PgPool, q: &AuditQuery) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.at, a.actor, k.name AS actor_name, k.role AS actor_role, a.action, \
                a.number, a.subject, a.details \
         FROM audit_log a LEFT JOIN api_keys k ON k.id = a.actor \
         WHERE ($1::bigint IS NULL OR a.number = $1) \
           AND ($2::timestamptz IS NULL OR a.at >= $2) \
           AND ($3::timestamptz IS NULL OR a.at < $3) \
           AND ($4::bigint IS NULL OR a.id < $4) \
           AND ($6::text IS NULL OR CASE WHEN $7 THEN starts_with(a.action, $6) ELSE a.action = $6 END) \
           AND ($8::bigint IS NULL OR a.actor = $8) \
           AND ($9::text IS NULL OR lower(k.name) = lower($9)) \
         ORDER BY a.id DESC LIMIT $5",
    )
    .bind(q.number.map(|n| n as i64))
    .bind(q.from)
    .bind(q.to)
    .bind(q.before_id)
    .bind(q.limit)
    .bind(&q.action)
    .bind(q.action_prefix)
    .bind(q.actor_id)
    .bind(&q.actor_name)
    .fetch_all(pool)
    .await
}
