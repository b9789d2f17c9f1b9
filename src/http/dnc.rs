//! The internal do-not-call list: add (agent), read (agent), deactivate (admin). An entry
//! blocks one `number` or, as a range block, every number starting with a `prefix`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::extract::{ApiJson, ApiPath, ApiQuery, AsAdmin, AsAgent, NoQuery};
use super::middleware::WriteProgress;
use super::written;
use super::AppState;
use crate::domain::{PhoneNumber, Prefix, Scope, Target};
use crate::error::ApiError;
use crate::store::dnc::{self, Added, Deactivated, DncEntry, NewEntry};

/// Longest free-text field (reason, source, note) we store.
const MAX_TEXT: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dnc", get(list).post(add))
        .route("/v1/dnc/{id}", get(one).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    number: Option<String>,
    prefix: Option<String>,
    reason: Option<String>,
    source: Option<String>,
    client: Option<String>,
    campaign: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    note: Option<String>,
}

/// The JSON shape of an entry.
#[derive(Serialize)]
pub struct EntryView {
    id: i64,
    /// A number entry's number; a prefix entry has `prefix` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    scope: &'static str,
    client: Option<String>,
    campaign: Option<String>,
    reason: Option<String>,
    source: Option<String>,
    note: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    active: bool,
    /// Whether the entry blocks calls now (active and not expired).
    blocking: bool,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
    deactivated_at: Option<DateTime<Utc>>,
    deactivated_by: Option<i64>,
    deactivation_reason: Option<String>,
}

impl From<DncEntry> for EntryView {
    fn from(e: DncEntry) -> Self {
        // Digits that no longer read as a number are still shown as stored.
        let shown = e
            .target()
            .map_or_else(|| format!("+{}", e.number), |t| t.to_string());
        let (number, prefix) = if e.prefix {
            (None, Some(shown))
        } else {
            (Some(shown), None)
        };
        EntryView {
            id: e.id,
            number,
            prefix,
            scope: e.scope().kind(),
            blocking: e.active && e.expires_at.is_none_or(|t| t > Utc::now()),
            client: e.client,
            campaign: e.campaign,
            reason: e.reason,
            source: e.source,
            note: e.note,
            expires_at: e.expires_at,
            active: e.active,
            created_at: e.created_at,
            created_by: e.created_by,
            deactivated_at: e.deactivated_at,
            deactivated_by: e.deactivated_by,
            deactivation_reason: e.deactivation_reason,
        }
    }
}

fn text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(v) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if v.len() > MAX_TEXT {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field} is longer than {MAX_TEXT} bytes"),
        ));
    }
    if v.contains('\0') {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field} contains a NUL character"),
        ));
    }
    Ok(Some(v))
}

async fn add(
    caller: AsAgent,
    State(state): State<AppState>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<AddRequest>,
) -> Result<Response, ApiError> {
    let target = match (req.number.as_deref(), req.prefix.as_deref()) {
        (Some(number), None) => Target::Number(PhoneNumber::parse(number, state.settings.region)?),
        (None, Some(prefix)) => Target::Prefix(Prefix::parse(prefix)?),
        (Some(_), Some(_)) => return Err(ApiError::unprocessable(
            "number_and_prefix",
            "give either number (one number) or prefix (every number starting with it), not both",
        )),
        // The code serde gave for a missing field before prefixes existed.
        (None, None) => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "number is required (or prefix, to block every number starting with it)",
            ))
        }
    };
    let scope = Scope::from_parts(req.client.as_deref(), req.campaign.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))?;
    if let Some(t) = req.expires_at.filter(|t| *t <= Utc::now()) {
        return Err(ApiError::unprocessable(
            "invalid_expires_at",
            format!("expires_at {t} is in the past; an entry must block for some time"),
        ));
    }
    let new = NewEntry {
        target,
        scope,
        reason: text("reason", req.reason)?,
        source: text("source", req.source)?,
        note: text("note", req.note)?,
        expires_at: req.expires_at,
    };
    progress.writing();
    let added = dnc::add(&state.db, caller.0.id, &new).await?;
    progress.committed();
    // The answer goes out once this process's /check sees the entry, or says it will soon.
    let visible = state
        .index
        .refresh_after_write(&state.db, progress.answer_by())
        .await;
    let (status, entry, action) = match added {
        Added::Created(e) => (StatusCode::CREATED, e, "add"),
        Added::Extended(e) => (StatusCode::OK, e, "extend"),
        Added::Existing(e) => (StatusCode::OK, e, "existing"),
    };
    let shown = match target {
        Target::Number(n) => state.loggable(n),
        Target::Prefix(p) => p.to_string(),
    };
    state.metrics.dnc_changed(action);
    tracing::info!(entry_id = entry.id, number = %shown, status = status.as_u16(), "dnc entry added");
    let body = written(EntryView::from(entry), visible, &state.settings)?;
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    number: Option<String>,
    prefix: Option<String>,
}

/// `?number=`: the number's entries and the prefix entries that cover it; `?prefix=`:
/// the entries of exactly that prefix.
async fn list(
    _caller: AsAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (key, value, rows) = match (q.number, q.prefix) {
        (Some(raw), None) => {
            let number = PhoneNumber::parse(&raw, state.settings.region)?;
            let rows = dnc::list_by_number(&state.db, number).await?;
            ("number", number.e164(), rows)
        }
        (None, Some(raw)) => {
            let prefix = Prefix::parse(&raw)?;
            let rows = dnc::list_by_prefix(&state.db, prefix).await?;
            ("prefix", prefix.to_string(), rows)
        }
        _ => {
            return Err(ApiError::bad_request(
                "missing_number",
                "give the number parameter (or prefix, for the entries of a prefix), not both",
            ))
        }
    };
    let entries: Vec<EntryView> = rows.into_iter().map(EntryView::from).collect();
    Ok(Json(json!({ key: value, "entries": entries })))
}

async fn one(
    _caller: AsAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
) -> Result<Json<EntryView>, ApiError> {
    dnc::get(&state.db, id)
        .await?
        .map(|e| Json(e.into()))
        .ok_or_else(|| ApiError::not_found(format!("no do-not-call entry {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveRequest {
    reason: Option<String>,
}

async fn remove(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<RemoveRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reason = text("reason", req.reason)?.ok_or_else(|| {
        ApiError::unprocessable(
            "missing_reason",
            "a reason is required to deactivate an entry (it is kept in the audit log)",
        )
    })?;
    progress.writing();
    match dnc::deactivate(&state.db, caller.0.id, id, &reason).await? {
        Deactivated::Done(entry) => {
            progress.committed();
            state.metrics.dnc_changed("remove");
            let visible = state
                .index
                .refresh_after_write(&state.db, progress.answer_by())
                .await;
            tracing::info!(entry_id = id, "dnc entry deactivated");
            let body = written(EntryView::from(entry), visible, &state.settings)?;
            Ok(Json(body))
        }
        Deactivated::NotFound => Err(ApiError::not_found(format!("no do-not-call entry {id}"))),
        Deactivated::AlreadyInactive(_) => Err(ApiError::conflict(
            "already_inactive",
            format!("do-not-call entry {id} is already deactivated"),
        )),
    }
}
