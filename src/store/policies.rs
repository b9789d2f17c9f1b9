//! Policies of clients and of campaigns of a client: whether a valid consent is required
//! before a number is called. A row per client (campaign NULL) or campaign, changed in
//! place; every change is audited (`policy.set`) with the policy before and after. A
//! removal (`policy.remove`) marks the row, which the reads here and the snapshot then
//! skip (the serving role has no `DELETE`, and history keeps what the policy was).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::audit::{self, AuditEvent};
use super::{bump_version, is_unique_violation};
use crate::domain::{Policy, ScopeName};

const UNIQUE_SCOPE: &str = "policies_scope_unique";
const COLUMNS: &str =
    "id, client, campaign, consent_required, purpose, updated_at, updated_by, removed_at";

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct PolicyRow {
    pub id: i64,
    pub client: String,
    pub campaign: Option<String>,
    pub consent_required: bool,
    pub purpose: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
}

pub enum Set {
    /// The policy was made or changed.
    Changed(PolicyRow),
    /// It already said that; nothing changed.
    Unchanged(PolicyRow),
}

/// Sets the policy of `client`, or of its `campaign`.
pub async fn set(
    pool: &PgPool,
    actor: i64,
    client: &ScopeName,
    campaign: Option<&ScopeName>,
    policy: &Policy,
) -> Result<Set, sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match set_once(pool, actor, client, campaign, policy).await {
            Err(e) if attempt < 3 && is_unique_violation(&e, UNIQUE_SCOPE) => continue,
            other => return other,
        }
    }
}

async fn set_once(
    pool: &PgPool,
    actor: i64,
    client: &ScopeName,
    campaign: Option<&ScopeName>,
    policy: &Policy,
) -> Result<Set, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row = locked(&mut tx, client, campaign).await?;
    let row_id = row.as_ref().map(|b| b.id);
    // A removed policy is no policy: setting it again is a change from none.
    let before = row.filter(|b| b.removed_at.is_none());
    if let Some(b) = before.as_ref().filter(|b| {
        b.consent_required == policy.consent_required && b.purpose == policy.purpose.as_str()
    }) {
        return Ok(Set::Unchanged(b.clone()));
    }
    let version = bump_version(&mut tx).await?;
    let row: PolicyRow = match row_id {
        Some(id) => {
            sqlx::query_as(&format!(
                "UPDATE policies SET consent_required = $2, purpose = $3, updated_at = now(), \
                 updated_by = $4, version = $5, removed_at = NULL, removed_by = NULL \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .bind(id)
            .bind(policy.consent_required)
            .bind(policy.purpose.as_str())
            .bind(actor)
            .bind(version)
            .fetch_one(&mut *tx)
            .await?
        }
        None => {
            sqlx::query_as(&format!(
                "INSERT INTO policies (client, campaign, consent_required, purpose, updated_by, \
                 version) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ))
            .bind(client.as_str())
            .bind(campaign.map(ScopeName::as_str))
            .bind(policy.consent_required)
            .bind(policy.purpose.as_str())
            .bind(actor)
            .bind(version)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let view =
        |r: &PolicyRow| json!({"consent_required": r.consent_required, "purpose": r.purpose});
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action: "policy.set",
            number: None,
            subject: Some(format!("policy:{}", row.id)),
            details: json!({"client": row.client, "campaign": row.campaign, "version": version,
                "before": before.as_ref().map(view), "after": view(&row)}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Set::Changed(row))
}

/// The row of `client`'s (or its `campaign`'s) policy, removed or not, locked.
async fn locked(
    conn: &mut PgConnection,
    client: &ScopeName,
    campaign: Option<&ScopeName>,
) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policies WHERE client_key = $1 \
         AND coalesce(campaign_key, '') = $2 FOR UPDATE"
    ))
    .bind(client.key())
    .bind(campaign.map_or("", ScopeName::key))
    .fetch_optional(conn)
    .await
}

/// Removes the policy of `client` (campaign `None`) or of its `campaign`: the row is
/// marked removed (who, when), the removal audited (`policy.remove`, with the policy
/// before). `None` when there was no policy to remove.
pub async fn remove(
    pool: &PgPool,
    actor: i64,
    client: &ScopeName,
    campaign: Option<&ScopeName>,
) -> Result<Option<PolicyRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(before) = locked(&mut tx, client, campaign)
        .await?
        .filter(|b| b.removed_at.is_none())
    else {
        return Ok(None);
    };
    let version = bump_version(&mut tx).await?;
    let row: PolicyRow = sqlx::query_as(&format!(
        "UPDATE policies SET removed_at = now(), removed_by = $2, version = $3 WHERE id = $1 \
         RETURNING {COLUMNS}"
    ))
    .bind(before.id)
    .bind(actor)
    .bind(version)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action: "policy.remove",
            number: None,
            subject: Some(format!("policy:{}", row.id)),
            details: json!({"client": row.client, "campaign": row.campaign, "version": version,
                "before": {"consent_required": before.consent_required,
                           "purpose": before.purpose},
                "after": null}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// The policy of `client` (campaign `None`) or of its `campaign`, if one was set.
pub async fn get(
    pool: &PgPool,
    client: &ScopeName,
    campaign: Option<&ScopeName>,
) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policies WHERE client_key = $1 \
         AND coalesce(campaign_key, '') = $2 AND removed_at IS NULL"
    ))
    .bind(client.key())
    .bind(campaign.map_or("", ScopeName::key))
    .fetch_optional(pool)
    .await
}

/// The policies of `client`'s campaigns, by campaign.
pub async fn campaigns_of(
    pool: &PgPool,
    client: &ScopeName,
) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policies WHERE client_key = $1 AND campaign IS NOT NULL \
         AND removed_at IS NULL ORDER BY campaign_key"
    ))
    .bind(client.key())
    .fetch_all(pool)
    .await
}
