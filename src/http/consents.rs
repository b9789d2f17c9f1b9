//! Consents (agent): record a number's documented consent to be called by a client for a
//! purpose, read them, withdraw one with a reason. A withdrawal keeps the record.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery, AsAgent, NoQuery};
use super::middleware::WriteProgress;
use super::written;
use super::AppState;
use crate::domain::consent::{ConsentFields, MAX_NOTE};
use crate::domain::{NewConsent, PhoneNumber, Purpose, ScopeName};
use crate::error::ApiError;
use crate::store::consents::{self, Added, Consent, ListQuery, Withdrawn};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/consents", get(list).post(add))
        .route("/v1/consents/{id}", get(one).delete(withdraw))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    number: String,
    client: String,
    purpose: String,
    evidence: Option<String>,
    source: Option<String>,
    given_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    note: Option<String>,
}

/// The JSON shape of a consent.
#[derive(Serialize)]
pub struct ConsentView {
    id: i64,
    number: String,
    client: String,
    purpose: String,
    evidence: String,
    source: String,
    note: Option<String>,
    given_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    /// Whether it counts now: not withdrawn, given, not expired.
    valid: bool,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
    withdrawn_at: Option<DateTime<Utc>>,
    withdrawn_by: Option<i64>,
    withdrawal_reason: Option<String>,
}

impl From<Consent> for ConsentView {
    fn from(c: Consent) -> Self {
        ConsentView {
            id: c.id,
            number: PhoneNumber::from_digits(c.number as u64)
                .map_or_else(|| format!("+{}", c.number), PhoneNumber::e164),
            valid: c.valid_at(Utc::now()),
            client: c.client,
            purpose: c.purpose,
            evidence: c.evidence,
            source: c.source,
            note: c.note,
            given_at: c.given_at,
            expires_at: c.expires_at,
            created_at: c.created_at,
            created_by: c.created_by,
            withdrawn_at: c.withdrawn_at,
            withdrawn_by: c.withdrawn_by,
            withdrawal_reason: c.withdrawal_reason,
        }
    }
}

async fn add(
    caller: AsAgent,
    State(state): State<AppState>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<AddRequest>,
) -> Result<Response, ApiError> {
    let number = PhoneNumber::parse(&req.number, state.settings.region)?;
    let new = NewConsent::new(
        number,
        ConsentFields {
            client: &req.client,
            purpose: &req.purpose,
            evidence: req.evidence.as_deref(),
            source: req.source.as_deref(),
            note: req.note.as_deref(),
            given_at: req.given_at,
            expires_at: req.expires_at,
        },
        Utc::now(),
    )?;
    progress.writing();
    let added = consents::add(&state.db, caller.0.id, &new).await?;
    progress.committed();
    let (status, consent) = match added {
        Added::Created(c) => (StatusCode::CREATED, c),
        Added::Existing(c) => (StatusCode::OK, c),
        Added::Conflict(c) => {
            return Err(ApiError::conflict(
                "consent_conflict",
                format!(
                    "consent {} has this evidence for the number, client and purpose with other \
                     dates or source; withdraw it first or use another evidence reference",
                    c.id
                ),
            ))
        }
    };
    let visible = state
        .index
        .refresh_after_write(&state.db, progress.answer_by())
        .await;
    tracing::info!(consent_id = consent.id, number = %state.loggable(number), status = status.as_u16(), "consent recorded");
    let body = written(ConsentView::from(consent), visible, &state.settings)?;
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
struct ListParams {
    number: Option<String>,
    client: Option<String>,
    purpose: Option<String>,
    before_id: Option<i64>,
    limit: Option<i64>,
}

/// `GET /v1/consents?number=&client=&purpose=&limit=&before_id=`: newest first;
/// `next_before_id` pages further back.
async fn list(
    _caller: AsAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    if q.number.is_none() && q.client.is_none() {
        return Err(ApiError::bad_request(
            "missing_number",
            "give the number parameter, the client parameter, or both",
        ));
    }
    let number = match q.number.as_deref() {
        Some(raw) => Some(PhoneNumber::parse(raw, state.settings.region)?),
        None => None,
    };
    let client = match q.client.as_deref() {
        Some(raw) => Some(
            ScopeName::parse("client", raw)
                .map_err(|e| ApiError::unprocessable("invalid_client", e.0))?,
        ),
        None => None,
    };
    let purpose = q.purpose.as_deref().map(Purpose::parse).transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let rows = consents::list(
        &state.db,
        &ListQuery {
            number: number.map(PhoneNumber::digits),
            client_key: client.as_ref().map(ScopeName::key),
            purpose: purpose.as_ref().map(Purpose::as_str),
            before_id: q.before_id,
            limit,
        },
    )
    .await?;
    let next_before_id = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|c| c.id))
        .flatten();
    let consents: Vec<ConsentView> = rows.into_iter().map(ConsentView::from).collect();
    Ok(Json(json!({
        "number": number,
        "client": client.as_ref().map(ScopeName::as_str),
        "consents": consents,
        "next_before_id": next_before_id,
    })))
}

async fn one(
    _caller: AsAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
) -> Result<Json<ConsentView>, ApiError> {
    consents::get(&state.db, id)
        .await?
        .map(|c| Json(c.into()))
        .ok_or_else(|| ApiError::not_found(format!("no consent {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawRequest {
    reason: Option<String>,
}

/// Withdrawal only ever blocks more, so an agent may record it (the person said so).
async fn withdraw(
    caller: AsAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> Result<Json<Value>, ApiError> {
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "missing_reason",
                "a reason is required to withdraw a consent (it is kept in the audit log)",
            )
        })?;
    if reason.len() > MAX_NOTE || reason.contains('\0') {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("reason must be at most {MAX_NOTE} bytes, without NUL characters"),
        ));
    }
    progress.writing();
    match consents::withdraw(&state.db, caller.0.id, id, reason).await? {
        Withdrawn::Done(consent) => {
            progress.committed();
            let visible = state
                .index
                .refresh_after_write(&state.db, progress.answer_by())
                .await;
            tracing::info!(consent_id = id, "consent withdrawn");
            Ok(Json(written(
                ConsentView::from(consent),
                visible,
                &state.settings,
            )?))
        }
        Withdrawn::NotFound => Err(ApiError::not_found(format!("no consent {id}"))),
        Withdrawn::AlreadyWithdrawn(_) => Err(ApiError::conflict(
            "already_withdrawn",
            format!("consent {id} is already withdrawn"),
        )),
    }
}
