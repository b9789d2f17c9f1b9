//! The internal do-not-call list: add (agent), read (agent), deactivate (admin). An entry
//! blocks one `number` or, as a range block, every number starting with a `prefix`. The
//! list (`GET /v1/dnc`), filtered and exported, is `dnc_list.rs`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath, AsAdmin, AsAgent, NoQuery};
use super::middleware::WriteProgress;
use super::written;
use super::AppState;
use crate::domain::{fields, PhoneNumber, Prefix, Scope, Target};
use crate::error::ApiError;
use crate::store::dnc::{self, Added, Deactivated, DncEntry, EntryState, NewEntry};
use crate::store::keys;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dnc", post(add))
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
    external_id: Option<String>,
}

/// The JSON shape of an entry.
#[derive(Serialize)]
pub struct EntryView {
    pub(super) id: i64,
    /// A number entry's number; a prefix entry has `prefix` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) prefix: Option<String>,
    pub(super) scope: &'static str,
    pub(super) client: Option<String>,
    pub(super) campaign: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) source: Option<String>,
    pub(super) note: Option<String>,
    pub(super) expires_at: Option<DateTime<Utc>>,
    active: bool,
    /// Whether the entry blocks calls now (active and not expired).
    blocking: bool,
    /// `active` (blocking), `expired` or `removed` (deactivated).
    pub(super) state: &'static str,
    pub(super) created_at: DateTime<Utc>,
    pub(super) created_by: Option<i64>,
    pub(super) deactivated_at: Option<DateTime<Utc>>,
    pub(super) deactivated_by: Option<i64>,
    pub(super) deactivation_reason: Option<String>,
    /// The names of the keys in `created_by` / `deactivated_by`, in reads (`GET`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) created_by_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) deactivated_by_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) external_id: Option<String>,
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
        let blocking = e.active && e.expires_at.is_none_or(|t| t > Utc::now());
        EntryView {
            id: e.id,
            number,
            prefix,
            scope: e.scope().kind(),
            blocking,
            state: match (e.active, blocking) {
                (false, _) => EntryState::Removed,
                (true, false) => EntryState::Expired,
                (true, true) => EntryState::Active,
            }
            .as_str(),
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
            created_by_name: None,
            deactivated_by_name: None,
            external_id: e.external_id,
        }
    }
}

fn text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    fields::text(field, value.as_deref()).map_err(|e| ApiError::unprocessable("invalid_field", e.0))
}

/// The CRM's id of a flag (at most 200 bytes).
fn external_id(value: Option<String>) -> Result<Option<String>, ApiError> {
    fields::external_id(value.as_deref()).map_err(|e| ApiError::unprocessable("invalid_field", e.0))
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
        external_id: external_id(req.external_id)?,
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
    let shown = match target {
        Target::Number(n) => state.loggable(n),
        Target::Prefix(p) => p.to_string(),
    };
    tracing::info!(entry_id = entry.id, number = %shown, status = status.as_u16(), "dnc entry added");
    let body = written(EntryView::from(entry), visible, &state.settings)?;
    Ok((status, Json(body)).into_response())
}

async fn one(
    _caller: AsAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
) -> Result<Json<EntryView>, ApiError> {
    let entry = dnc::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no do-not-call entry {id}")))?;
    let mut views = [EntryView::from(entry)];
    name_actors(&state, &mut views).await?;
    let [view] = views;
    Ok(Json(view))
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

/// Fills in the names of the keys that made and deactivated the entries.
pub(super) async fn name_actors(state: &AppState, views: &mut [EntryView]) -> Result<(), ApiError> {
    let mut ids: Vec<i64> = views
        .iter()
        .flat_map(|v| [v.created_by, v.deactivated_by])
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, String> = keys::names(&state.db, &ids).await?;
    for v in views {
        v.created_by_name = v.created_by.and_then(|id| names.get(&id).cloned());
        v.deactivated_by_name = v.deactivated_by.and_then(|id| names.get(&id).cloned());
    }
    Ok(())
}
