//! What history replays consents and policies from (migration 0061): each consent and
//! policy with its states by data version, and when each version was committed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A consent of a number, with who recorded and who withdrew it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ConsentRow {
    pub id: i64,
    pub client: String,
    pub client_key: String,
    pub purpose: String,
    pub evidence: String,
    pub source: String,
    pub given_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<i64>,
    pub withdrawn_by_name: Option<String>,
    pub withdrawal_reason: Option<String>,
}

/// Every consent of `number` (its digits), by id.
pub async fn consents(
    conn: &mut PgConnection,
    number: u64,
) -> Result<Vec<ConsentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.client, c.client_key, c.purpose, c.evidence, c.source, c.given_at, \
                c.expires_at, c.created_at, c.created_by, k.name AS created_by_name, \
                c.withdrawn_at, c.withdrawn_by, w.name AS withdrawn_by_name, c.withdrawal_reason \
         FROM consents c \
         LEFT JOIN api_keys k ON k.id = c.created_by \
         LEFT JOIN api_keys w ON w.id = c.withdrawn_by \
         WHERE c.number = $1 ORDER BY c.id",
    )
    .bind(number as i64)
    .fetch_all(conn)
    .await
}

/// A consent's state from `version` (committed at `committed_at`) on.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ConsentStateRow {
    pub consent_id: i64,
    pub version: i64,
    pub committed_at: Option<DateTime<Utc>>,
    pub withdrawn: bool,
}

/// The states of `consents`, by consent and version.
pub async fn consent_states(
    conn: &mut PgConnection,
    consents: &[i64],
) -> Result<Vec<ConsentStateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.consent_id, s.version, l.committed_at, s.withdrawn \
         FROM consent_states s LEFT JOIN data_version_log l ON l.version = s.version \
         WHERE s.consent_id = ANY($1) ORDER BY s.consent_id, s.version",
    )
    .bind(consents)
    .fetch_all(conn)
    .await
}

/// A policy's state from `version` on, with the client's and campaign's names.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct PolicyStateRow {
    pub policy_id: i64,
    pub client: String,
    pub client_key: String,
    pub campaign: Option<String>,
    pub campaign_key: Option<String>,
    pub version: i64,
    pub committed_at: Option<DateTime<Utc>>,
    pub removed: bool,
    pub consent_required: bool,
    pub purpose: String,
    pub changed_by: Option<i64>,
    pub changed_by_name: Option<String>,
}

/// Every state of every policy (of the client whose key is `client_key`, when given),
/// by version.
pub async fn policy_states(
    conn: &mut PgConnection,
    client_key: Option<&str>,
) -> Result<Vec<PolicyStateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.policy_id, p.client, p.client_key, p.campaign, p.campaign_key, s.version, \
                l.committed_at, s.removed, s.consent_required, s.purpose, s.changed_by, \
                k.name AS changed_by_name \
         FROM policy_states s JOIN policies p ON p.id = s.policy_id \
         LEFT JOIN data_version_log l ON l.version = s.version \
         LEFT JOIN api_keys k ON k.id = s.changed_by \
         WHERE $1::text IS NULL OR p.client_key = $1 \
         ORDER BY s.version, s.policy_id",
    )
    .bind(client_key)
    .fetch_all(conn)
    .await
}
