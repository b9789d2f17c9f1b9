//! The internal do-not-call list: add (agent), read (agent), deactivate (admin).

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
use crate::domain::{PhoneNumber, Scope};
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
    number: String,
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
    number: String,
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
        let number = PhoneNumber::from_digits(e.number as u64)
            .map(PhoneNumber::e164)
            .unwrap_or_else(|| format!("+{}", e.number));
        EntryView {
            id: e.id,
            number,
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
    let number = PhoneNumber::parse(&req.number, state.settings.region)?;
    let scope = Scope::from_parts(req.client.as_deref(), req.campaign.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))?;
    if let Some(t) = req.expires_at.filter(|t| *t <= Utc::now()) {
        return Err(ApiError::unprocessable(
            "invalid_expires_at",
            format!("expires_at {t} is in the past; an entry must block for some time"),
        ));
    }
    let new = NewEntry {
        number,
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
    let (status, entry) = match added {
        Added::Created(e) => (StatusCode::CREATED, e),
        Added::Existing(e) | Added::Extended(e) => (StatusCode::OK, e),
    };
    tracing::info!(entry_id = entry.id, number = %state.loggable(number), status = status.as_u16(), "dnc entry added");
    let body = written(EntryView::from(entry), visible, &state.settings)?;
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    number: Option<String>,
}

async fn list(
    _caller: AsAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let raw = q.number.ok_or_else(|| {
        ApiError::bad_request("missing_number", "the number parameter is required")
    })?;
    let number = PhoneNumber::parse(&raw, state.settings.region)?;
    let entries: Vec<EntryView> = dnc::list_by_number(&state.db, number)
        .await?
        .into_iter()
        .map(EntryView::from)
        .collect();
    Ok(Json(json!({ "number": number, "entries": entries })))
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
