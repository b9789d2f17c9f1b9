//! The audit trail, read back (admin): who blocked or unblocked a number, when and why;
//! who imported what; who made or revoked which key.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::extract::{ApiQuery, AsAdmin};
use super::AppState;
use crate::domain::PhoneNumber;
use crate::error::ApiError;
use crate::store::audit::{self, AuditQuery, AuditRow};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(search))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    number: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    before_id: Option<i64>,
    limit: Option<i64>,
    action: Option<String>,
    actor: Option<String>,
}

#[derive(Serialize)]
struct Actor {
    id: i64,
    name: Option<String>,
    role: Option<String>,
}

#[derive(Serialize)]
struct EventView {
    id: i64,
    at: DateTime<Utc>,
    action: String,
    /// The key that acted; null for acts of the service itself (e.g. start-up repairs).
    actor: Option<Actor>,
    number: Option<String>,
    subject: Option<String>,
    /// What changed: `reason`, `before` / `after` where they apply.
    details: Value,
}

impl From<AuditRow> for EventView {
    fn from(r: AuditRow) -> Self {
        EventView {
            id: r.id,
            at: r.at,
            action: r.action,
            actor: r.actor.map(|id| Actor {
                id,
                name: r.actor_name,
                role: r.actor_role,
            }),
            number: r.number.map(|n| {
                PhoneNumber::from_digits(n as u64).map_or_else(|| format!("+{n}"), |p| p.e164())
            }),
            subject: r.subject,
            details: r.details,
        }
    }
}

/// `GET /v1/audit?number=&from=&to=&action=&actor=&limit=&before_id=`: events newest
/// first. `from` is inclusive, `to` exclusive (RFC 3339 times). `action` is one action
/// (`dnc.remove`) or a family (`dnc.*`); `actor` a key's id or its name.
/// `next_before_id` pages further back.
async fn search(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let number = match q.number.as_deref() {
        Some(raw) => Some(PhoneNumber::parse(raw, state.settings.region)?),
        None => None,
    };
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ApiError::unprocessable(
                "invalid_range",
                format!("from ({from}) is after to ({to})"),
            ));
        }
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let (action, action_prefix) = match q.action.as_deref().map(str::trim) {
        None => (None, false),
        Some(a) if !a.is_empty() && a.len() <= 100 && a.chars().all(action_char) => {
            match a.strip_suffix('*') {
                _ if a.matches('*').count() > 1 => return Err(bad_action(a)),
                Some(prefix) => (Some(prefix.to_string()), true),
                None if a.contains('*') => return Err(bad_action(a)),
                None => (Some(a.to_string()), false),
            }
        }
        Some(a) => return Err(bad_action(a)),
    };
    let (actor_id, actor_name) = match q.actor.as_deref().map(str::trim) {
        None => (None, None),
        Some("") => {
            return Err(ApiError::unprocessable(
                "invalid_parameter",
                "actor is empty; leave it out to read every actor's acts",
            ))
        }
        Some(a) if a.contains('\0') || a.len() > 200 => {
            return Err(ApiError::unprocessable(
                "invalid_parameter",
                "actor is not a key id or a key name",
            ))
        }
        Some(a) => match a.parse::<i64>() {
            Ok(id) => (Some(id), None),
            Err(_) => (None, Some(a.to_string())),
        },
    };
    let rows = audit::search(
        &state.db,
        &AuditQuery {
            number: number.map(PhoneNumber::digits),
            from: q.from,
            to: q.to,
            before_id: q.before_id,
            limit,
            action,
            action_prefix,
            actor_id,
            actor_name,
        },
    )
    .await?;
    let next_before_id = if rows.len() as i64 == limit {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let events: Vec<EventView> = rows.into_iter().map(EventView::from).collect();
    Ok(Json(json!({
        "number": number,
        "events": events,
        "next_before_id": next_before_id,
    })))
}

fn action_char(c: char) -> bool {
    c.is_ascii_lowercase() || c == '.' || c == '_' || c == '*'
}

fn bad_action(a: &str) -> ApiError {
    ApiError::unprocessable(
        "invalid_parameter",
        format!(
            "action={a:?} is not an action: use one such as dnc.remove, or a family such as dnc.*"
        ),
    )
}
