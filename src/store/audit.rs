//! The append-only audit trail (the database refuses UPDATE and DELETE on it).

use serde_json::Value;
use sqlx::PgConnection;

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
