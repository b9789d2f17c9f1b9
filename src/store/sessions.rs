//! Console sign-in sessions (migration 0007): stored by the SHA-256 of their id, ended by
//! sign-out, by idling, or by their key no longer working. Ending one marks its row (the
//! serving role may not delete), and an ended session never comes back.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use super::audit::{self, AuditEvent};

/// What a live session is.
#[derive(sqlx::FromRow, Debug)]
pub struct Session {
    pub key_id: i64,
    pub key_hash: Vec<u8>,
}

/// Why a session ended (`console_sessions.ended_why`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    SignedOut,
    /// Its key was revoked, or given a new secret.
    Revoked,
    /// Unused for longer than the idle timeout.
    Idle,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::SignedOut => "signed_out",
            Ended::Revoked => "revoked",
            Ended::Idle => "idle",
        }
    }

    fn from_column(s: &str) -> Ended {
        match s {
            "signed_out" => Ended::SignedOut,
            "revoked" => Ended::Revoked,
            _ => Ended::Idle,
        }
    }
}

/// What a session id comes to.
#[derive(Debug)]
pub enum Lookup {
    Live(Session),
    /// Ended, and why (an id never stored counts as idle: a session that is gone).
    Ended(Ended),
}

/// Opens a session for key `key_id` (whose hash is `key_hash`), audited as
/// `console.sign_in`.
pub async fn open(
    pool: &PgPool,
    id_hash: &[u8; 32],
    key_id: i64,
    key_hash: &[u8; 32],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO console_sessions (id_hash, key_id, key_hash) VALUES ($1, $2, $3)")
        .bind(&id_hash[..])
        .bind(key_id)
        .bind(&key_hash[..])
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(key_id),
            action: "console.sign_in",
            number: None,
            subject: Some(format!("key:{key_id}")),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await
}

/// The session, if it has not ended and has been used within `idle`; using it restarts
/// the idle clock. A session found past its idle time is marked ended.
pub async fn touch(
    pool: &PgPool,
    id_hash: &[u8; 32],
    idle: Duration,
) -> Result<Lookup, sqlx::Error> {
    let live: Option<Session> = sqlx::query_as(
        "UPDATE console_sessions SET last_seen_at = now() \
         WHERE id_hash = $1 AND ended_at IS NULL \
           AND last_seen_at >= now() - make_interval(secs => $2) \
         RETURNING key_id, key_hash",
    )
    .bind(&id_hash[..])
    .bind(idle.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    if let Some(session) = live {
        return Ok(Lookup::Live(session));
    }
    end(pool, id_hash, Ended::Idle).await?;
    let why: Option<String> =
        sqlx::query_scalar("SELECT ended_why FROM console_sessions WHERE id_hash = $1")
            .bind(&id_hash[..])
            .fetch_optional(pool)
            .await?
            .flatten();
    Ok(Lookup::Ended(
        why.as_deref().map_or(Ended::Idle, Ended::from_column),
    ))
}

/// Ends a session that has not ended yet (its key stopped working, or it idled out).
/// Returns whether it did.
pub async fn end(pool: &PgPool, id_hash: &[u8; 32], why: Ended) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE console_sessions SET ended_at = now(), ended_why = $2 \
         WHERE id_hash = $1 AND ended_at IS NULL",
    )
    .bind(&id_hash[..])
    .bind(why.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Signs out: ends the session and records it in the audit log, in one transaction.
pub async fn close(pool: &PgPool, id_hash: &[u8; 32], key_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE console_sessions SET ended_at = now(), ended_why = 'signed_out' \
         WHERE id_hash = $1 AND ended_at IS NULL",
    )
    .bind(&id_hash[..])
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(key_id),
            action: "console.sign_out",
            number: None,
            subject: Some(format!("key:{key_id}")),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await
}
