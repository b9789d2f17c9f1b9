//! Webhook subscriptions and their delivery attempts. A subscription is a cursor into the
//! change feed (the outbox, `changes`), moved only after a delivery was answered 2xx.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::audit::{self, AuditEvent};
use super::changes;
use crate::domain::{ChangeAction, Cursor, WebhookState, WebhookUrl};

const COLUMNS: &str = "id, url, events, description, created_at, created_by, deleted_at, \
                       deleted_by, delivered_version, delivered_seq, state, attempts, \
                       failing_since, next_attempt_at, last_error";

/// A subscription, without its secret.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<i64>,
    pub delivered_version: i64,
    pub delivered_seq: i32,
    #[sqlx(try_from = "String")]
    pub state: WebhookState,
    pub attempts: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

impl Webhook {
    /// The last change delivered (or passed over).
    pub fn delivered_through(&self) -> Cursor {
        Cursor {
            version: self.delivered_version,
            seq: self.delivered_seq,
        }
    }
}

/// A subscription due for delivery, with what signs it.
#[derive(Clone, Debug)]
pub struct Due {
    pub webhook: Webhook,
    pub secret: String,
}

/// Creates a subscription that delivers the changes committed from now on; returns it
/// with its secret.
pub async fn create(
    pool: &PgPool,
    actor: i64,
    url: &WebhookUrl,
    events: &[ChangeAction],
    description: Option<&str>,
    secret: &str,
) -> Result<Webhook, sqlx::Error> {
    let events: Vec<&str> = events.iter().map(|a| a.as_str()).collect();
    let mut tx = pool.begin().await?;
    // Every change of a version up to the current one is committed: start after them.
    let start = changes::head(&mut tx).await?;
    let hook: Webhook = sqlx::query_as(&format!(
        "INSERT INTO webhooks (url, events, description, secret, created_by, delivered_version, \
                               delivered_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(url.as_str())
    .bind(&events)
    .bind(description)
    .bind(secret)
    .bind(actor)
    .bind(start.version)
    .bind(start.seq)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action: "webhook.create",
            number: None,
            subject: Some(format!("webhook:{}", hook.id)),
            details: json!({"after": {"url": url.as_str(), "events": events, "description": description}}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(hook)
}

pub async fn list(pool: &PgPool) -> Result<Vec<Webhook>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY id"))
        .fetch_all(pool)
        .await
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Webhook>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// What an admin's act on a subscription found.
pub enum Acted {
    Done(Webhook),
    NotFound,
    /// Already deleted.
    Deleted(Webhook),
}

/// An admin's act on a subscription that is not deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Stop it for good and forget its secret.
    Delete,
    /// Make a failing one active and try its next change at once. An expired one stays
    /// expired: the changes it missed are gone.
    Resume,
}

/// Does `act` to subscription `id` (audited, with the subscription as it was).
pub async fn act(pool: &PgPool, actor: i64, id: i64, act: Act) -> Result<Acted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(before) = lock(&mut tx, id).await? else {
        return Ok(Acted::NotFound);
    };
    if before.deleted_at.is_some() {
        return Ok(Acted::Deleted(before));
    }
    let (action, change) = match act {
        Act::Delete => (
            "webhook.delete",
            "deleted_at = now(), deleted_by = $2, secret = NULL",
        ),
        Act::Resume => (
            "webhook.resume",
            "state = CASE WHEN state = 'expired' THEN state ELSE 'active' END, attempts = 0, \
             failing_since = NULL, next_attempt_at = now()",
        ),
    };
    let sql = format!("UPDATE webhooks SET {change} WHERE id = $1 RETURNING {COLUMNS}");
    let mut update = sqlx::query_as(&sql).bind(id);
    if act == Act::Delete {
        update = update.bind(actor);
    }
    let after: Webhook = update.fetch_one(&mut *tx).await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action,
            number: None,
            subject: Some(format!("webhook:{id}")),
            details: json!({"before": {"url": before.url, "events": before.events,
                                       "state": before.state.as_str(), "attempts": before.attempts}}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Acted::Done(after))
}

async fn lock(conn: &mut PgConnection, id: i64) -> Result<Option<Webhook>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Subscriptions whose next attempt is due (not deleted, not expired).
pub async fn due(pool: &PgPool) -> Result<Vec<Due>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        secret: Option<String>,
        #[sqlx(flatten)]
        webhook: Webhook,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT secret, {COLUMNS} FROM webhooks \
         WHERE deleted_at IS NULL AND state <> 'expired' AND next_attempt_at <= now() \
         ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Due {
                secret: r.secret?,
                webhook: r.webhook,
            })
        })
        .collect())
}

/// When the next attempt of any live subscription is due.
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(next_attempt_at) FROM webhooks WHERE deleted_at IS NULL AND state <> 'expired'",
    )
    .fetch_one(pool)
    .await
}

/// How many live subscriptions are failing or expired.
pub async fn failing(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM webhooks WHERE deleted_at IS NULL AND state <> 'active'",
    )
    .fetch_one(pool)
    .await
}

/// Moves a subscription that has no change of its types after `from` on to `to` (all
/// committed), so that the feed's retention does not pass it by. False if it has moved
/// meanwhile (another deliverer) or was deleted.
pub async fn pass_over(
    pool: &PgPool,
    id: i64,
    from: Cursor,
    to: Cursor,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE webhooks SET delivered_version = $4, delivered_seq = $5 \
         WHERE id = $1 AND (delivered_version, delivered_seq) = ($2, $3) AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(from.version)
    .bind(from.seq)
    .bind(to.version)
    .bind(to.seq)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// One attempt to deliver a change.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub event: Cursor,
    /// 1 for the first attempt at this change.
    pub attempt: i32,
    pub status_code: Option<u16>,
    /// `None` when delivered (a 2xx).
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// Records a delivered change: the subscription moves past it (only from `from`: a
/// deliverer that lost its lead to another cannot move it back) and is active again.
pub async fn delivered(
    pool: &PgPool,
    id: i64,
    from: Cursor,
    attempt: &Attempt,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE webhooks SET delivered_version = $4, delivered_seq = $5, state = 'active', \
                attempts = 0, failing_since = NULL, last_error = NULL, next_attempt_at = now() \
         WHERE id = $1 AND (delivered_version, delivered_seq) = ($2, $3) AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(from.version)
    .bind(from.seq)
    .bind(attempt.event.version)
    .bind(attempt.event.seq)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    record_attempt(&mut tx, id, attempt, None).await?;
    tx.commit().await?;
    Ok(moved == 1)
}

/// Records a failed attempt at the change after `from`: tried again at `next`; the
/// subscription turns `failing` once it has failed for `retry_for`. Returns its state
/// (`None` if it has moved on or was deleted meanwhile).
pub async fn failed(
    pool: &PgPool,
    id: i64,
    from: Cursor,
    attempt: &Attempt,
    next: DateTime<Utc>,
    retry_for: std::time::Duration,
) -> Result<Option<WebhookState>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE webhooks SET attempts = $4, failing_since = coalesce(failing_since, now()), \
                next_attempt_at = $5, last_error = $6, \
                state = CASE WHEN coalesce(failing_since, now()) <= now() - make_interval(secs => $7) \
                             THEN 'failing' ELSE state END \
         WHERE id = $1 AND (delivered_version, delivered_seq) = ($2, $3) AND deleted_at IS NULL \
         RETURNING state",
    )
    .bind(id)
    .bind(from.version)
    .bind(from.seq)
    .bind(attempt.attempt)
    .bind(next)
    .bind(attempt.error.as_deref())
    .bind(retry_for.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    record_attempt(&mut tx, id, attempt, Some(next)).await?;
    tx.commit().await?;
    Ok(state.and_then(|s| s.parse().ok()))
}

/// Stops a subscription whose undelivered changes the feed's retention removed.
pub async fn expire(pool: &PgPool, id: i64, from: Cursor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhooks SET state = 'expired', last_error = $4 \
         WHERE id = $1 AND (delivered_version, delivered_seq) = ($2, $3) AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(from.version)
    .bind(from.seq)
    .bind(
        "changes it had not delivered were removed after TARCZA_CHANGES_RETENTION; delete it, \
         compare the lists (POST /v1/dnc/drift) and subscribe again",
    )
    .execute(pool)
    .await?;
    Ok(())
}

async fn record_attempt(
    conn: &mut PgConnection,
    id: i64,
    attempt: &Attempt,
    next: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, event_version, event_seq, attempt, \
                                         status_code, error, duration_ms, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(attempt.event.version)
    .bind(attempt.event.seq)
    .bind(attempt.attempt)
    .bind(attempt.status_code.map(i32::from))
    .bind(attempt.error.as_deref())
    .bind(attempt.duration_ms)
    .bind(next)
    .execute(conn)
    .await?;
    Ok(())
}

/// A recorded attempt.
#[derive(sqlx::FromRow, Debug)]
pub struct Delivery {
    pub id: i64,
    pub event_version: i64,
    pub event_seq: i32,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The latest `limit` attempts of subscription `id`, newest first.
pub async fn deliveries(pool: &PgPool, id: i64, limit: i64) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_version, event_seq, attempt, at, status_code, error, duration_ms, \
                next_attempt_at \
         FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
