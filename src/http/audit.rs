//! The audit trail, read back (admin): who blocked or unblocked a number, when and why;
//! who imported what; who made or revoked which key.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, AsAdmin};
use super::AppState;
use crate::domain::PhoneNumber;
use crate::error::{ApiError, ErrorBody};
use crate::store::audit::{self, AuditQuery, AuditRow};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// Only events of this number (any spelling `GET /v1/check` takes, format
    /// `phone-number`; not a valid number is `422 invalid_number`).
    #[param(format = "phone-number")]
    number: Option<String>,
    /// Events at or after this time (RFC 3339; URL-encode the `+` of an offset).
    #[serde(default, deserialize_with = "super::time::optional")]
    from: Option<DateTime<Utc>>,
    /// Events before this time; not before `from` (`422 invalid_range`).
    #[serde(default, deserialize_with = "super::time::optional")]
    to: Option<DateTime<Utc>>,
    /// Events older than this one: the `next_before_id` of the previous page.
    before_id: Option<i64>,
    /// Events per page, 1 to 1000 (`422 invalid_limit` otherwise).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// Only events of this action (`dnc.remove`) or family of actions (`dnc.*`): lower
    /// case letters, `.` and `_`, at most one `*`, at the end (`422 invalid_parameter`
    /// otherwise).
    #[param(
        pattern = "^([a-z._]{1,100}|[a-z._]{0,99}\\*)$",
        max_length = 100,
        example = "dnc.*"
    )]
    action: Option<String>,
    /// Only events by this key: its id, or its name (at most 200 characters, not blank,
    /// no NUL; `422 invalid_parameter` otherwise).
    #[param(max_length = 200, pattern = "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$")]
    actor: Option<String>,
}

/// The key that acted.
#[derive(Serialize, ToSchema)]
struct Actor {
    id: i64,
    name: Option<String>,
    role: Option<String>,
}

/// One audit event.
#[derive(Serialize, ToSchema)]
struct EventView {
    id: i64,
    at: DateTime<Utc>,
    action: String,
    /// The key that acted; null for acts of the service itself (e.g. start-up repairs).
    actor: Option<Actor>,
    number: Option<String>,
    subject: Option<String>,
    /// What changed: `reason`, `before` / `after` where they apply.
    #[schema(value_type = Object)]
    details: Value,
}

/// A page of events, newest first.
#[derive(Serialize, ToSchema)]
struct AuditPage {
    /// The number asked about, in E.164 form (null without `number`).
    #[schema(value_type = Option<String>)]
    number: Option<PhoneNumber>,
    events: Vec<EventView>,
    /// Pass as `before_id` for the next (older) page; null on the last page.
    next_before_id: Option<i64>,
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

/// The audit log, newest first.
///
/// Every change (do-not-call entries, imports, keys) with who made it, when and why.
/// `from` is inclusive, `to` exclusive; `action` is one action (`dnc.remove`) or a family
/// (`dnc.*`); `actor` a key's id or its name; `next_before_id` pages further back.
#[utoipa::path(
    get,
    operation_id = "search_audit",
    path = "/v1/audit",
    tag = "audit",
    params(SearchQuery),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 422, description = "Not a valid number (`invalid_number`), `from` after `to` (`invalid_range`), a `limit` out of range (`invalid_limit`), or an `action` or `actor` that cannot be one (`invalid_parameter`)", body = ErrorBody),
    )
)]
async fn search(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<AuditPage>, ApiError> {
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
        Some(a) if a.contains('\0') || a.chars().count() > 200 => {
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
    Ok(Json(AuditPage {
        number,
        events,
        next_before_id,
    }))
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
