//! Consents (agent): record a number's documented consent to be called by a client for a
//! purpose, read them, withdraw one with a reason. A withdrawal keeps the record.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery, NoQuery, ScopedAgent};
use super::middleware::WriteProgress;
use super::AppState;
use super::{written, Notice};
use crate::domain::consent::{ConsentFields, MAX_NOTE};
use crate::domain::{NewConsent, PhoneNumber, Purpose, Scope, ScopeName};
use crate::error::{ApiError, ErrorBody};
use crate::store::consents::{self, Added, Consent, ListQuery, Withdrawn};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(one, withdraw))
}

/// A number's documented consent to be called by a client for a purpose.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentRequest {
    /// The number, in any spelling `GET /v1/check` takes (format `phone-number`); not a
    /// valid number is `422 invalid_number`.
    #[schema(format = "phone-number", example = "+48 601 234 567")]
    number: String,
    /// The client the consent was given to (at most 200 characters, not blank, no control
    /// characters; compared without regard to case): `422 invalid_client` otherwise.
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "acme"
    )]
    client: String,
    /// What for: 1 to 64 letters, digits, `_`, `.` or `-`, starting with a letter or digit
    /// (compared in lower case): `422 invalid_purpose` otherwise.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", example = "marketing")]
    purpose: String,
    /// What proves it (a recording id, a form id, a document's reference): required, at
    /// most 500 characters, not blank, no NUL.
    #[schema(value_type = String, required = true, max_length = 500, pattern = "^[^\\u0000]*[^\\u0000\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000]*$", example = "rec-2026-11-28-0042")]
    evidence: Option<String>,
    /// Where it came from (`agent`, `web_form`, `crm`, …): required, at most 500
    /// characters, not blank, no NUL.
    #[schema(value_type = String, required = true, max_length = 500, pattern = "^[^\\u0000]*[^\\u0000\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000]*$", example = "agent")]
    source: Option<String>,
    /// When it was given (RFC 3339): required, not in the future (5 minutes of clock
    /// difference are allowed), `422 invalid_given_at` otherwise.
    #[serde(default, deserialize_with = "super::time::optional")]
    #[schema(value_type = String, format = DateTime, required = true, example = "2026-11-28T10:00:00Z")]
    given_at: Option<DateTime<Utc>>,
    /// When it ends (RFC 3339): after `given_at` and in the future (`422
    /// invalid_expires_at`). None: until withdrawn.
    #[serde(default, deserialize_with = "super::time::optional")]
    #[schema(example = "2027-11-28T10:00:00Z")]
    expires_at: Option<DateTime<Utc>>,
    /// A note (free text, at most 2000 characters, no NUL).
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$")]
    note: Option<String>,
}

/// A consent, valid or not; a withdrawal keeps it, with who, when and why.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    id: i64,
    /// The number in E.164 form.
    #[schema(example = "+48601234567")]
    number: String,
    #[schema(example = "acme")]
    client: String,
    #[schema(example = "marketing")]
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
    /// Present on the answer to a write that this process's `/v1/check` may not show
    /// yet (`not_yet_visible`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
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
            warnings: Vec::new(),
        }
    }
}

/// Record a consent.
///
/// A consent lets a client call a number under a `consent_required` policy, and (where
/// the registry is set to) call it although it is in that registry. Recording the same
/// evidence again returns the existing consent.
#[utoipa::path(
    post,
    operation_id = "add_consent",
    path = "/v1/consents",
    tag = "consents",
    request_body = ConsentRequest,
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 201, description = "The new consent", body = ConsentView),
        (status = 200, description = "This evidence was already recorded for the number, client and purpose with the same dates and source: the existing consent", body = ConsentView),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 409, description = "This evidence is recorded for the number, client and purpose with other dates or source (`consent_conflict`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "Not a valid number (`invalid_number`), client (`invalid_client`) or purpose (`invalid_purpose`); evidence, source or given_at missing (`missing_field`); a text too long or holding NUL (`invalid_field`); given_at in the future (`invalid_given_at`); expires_at not after given_at or past (`invalid_expires_at`); or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn add(
    caller: ScopedAgent,
    State(state): State<AppState>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<ConsentRequest>,
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
    caller.may_write(&Scope::Client {
        client: new.client.clone(),
    })?;
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
    let mut body = ConsentView::from(consent);
    body.warnings = written(visible, &state.settings);
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only consents of this number (any spelling `GET /v1/check` takes, format
    /// `phone-number`). Give `number`, `client` or both.
    #[param(format = "phone-number", example = "601234567")]
    number: Option<String>,
    /// Only consents given to this client (at most 200 characters, not blank, no
    /// control characters).
    #[param(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "acme"
    )]
    client: Option<String>,
    /// Only consents for this purpose.
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", example = "marketing")]
    purpose: Option<String>,
    /// Only consents older than this id (the previous page's `next_before_id`).
    before_id: Option<i64>,
    /// At most this many (1 to 1000; 100 when not given).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// A page of consents, newest first.
#[derive(Serialize, ToSchema)]
struct ConsentList {
    /// The number asked for, in E.164 form.
    #[schema(value_type = Option<String>, example = "+48601234567")]
    number: Option<PhoneNumber>,
    /// The client asked for, as written.
    client: Option<String>,
    consents: Vec<ConsentView>,
    /// Pass as `before_id` for the next page; `null` on the last one.
    next_before_id: Option<i64>,
}

/// The consents of a number, of a client, or of a number for a client.
///
/// Newest first, withdrawn and expired ones included (see `valid`); `next_before_id`
/// pages further back.
#[utoipa::path(
    get,
    operation_id = "list_consents",
    path = "/v1/consents",
    tag = "consents",
    params(ListParams),
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The consents, newest first", body = ConsentList),
        (status = 400, description = "Neither `number` nor `client` (`missing_number`)", body = ErrorBody),
        (status = 422, description = "Not a valid number (`invalid_number`), client (`invalid_client`) or purpose (`invalid_purpose`), or a limit out of range (`invalid_limit`)", body = ErrorBody),
    )
)]
async fn list(
    caller: ScopedAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<ConsentList>, ApiError> {
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
    // A client-bound key lists its client's consents only.
    let client = caller.client_filter(client)?;
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
    Ok(Json(ConsentList {
        number,
        client: client.as_ref().map(|c| c.as_str().to_string()),
        consents,
        next_before_id,
    }))
}

/// One consent.
#[utoipa::path(
    get,
    operation_id = "get_consent",
    path = "/v1/consents/{id}",
    tag = "consents",
    params(("id" = i64, Path, description = "The consent's id")),
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The consent", body = ConsentView),
        (status = 404, description = "No such consent (`not_found`)", body = ErrorBody),
    )
)]
async fn one(
    caller: ScopedAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
) -> Result<Json<ConsentView>, ApiError> {
    // Another client's consent is not there for a client-bound key: the same 404.
    consents::get(&state.db, id)
        .await?
        .filter(|c| caller.sees_client(&c.client))
        .map(|c| Json(c.into()))
        .ok_or_else(|| ApiError::not_found(format!("no consent {id}")))
}

/// Why a consent is withdrawn.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WithdrawalRequest {
    /// Required (kept in the audit log): at most 2000 characters, not blank, no NUL.
    #[schema(value_type = String, required = true, max_length = 2000, pattern = "^[^\\u0000]*[^\\u0000\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000]*$", example = "the customer withdrew it on the phone")]
    reason: Option<String>,
}

/// Withdraw a consent (it is kept, never erased).
///
/// The consent stops counting; the withdrawal is written to the audit log with the key
/// that made it and the reason. Withdrawal only ever blocks more, so an agent may record
/// it (the person said so).
#[utoipa::path(
    delete,
    operation_id = "withdraw_consent",
    path = "/v1/consents/{id}",
    tag = "consents",
    params(("id" = i64, Path, description = "The consent's id")),
    request_body = WithdrawalRequest,
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The consent, now withdrawn, with who, when and why", body = ConsentView),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 404, description = "No such consent (`not_found`)", body = ErrorBody),
        (status = 409, description = "Already withdrawn (`already_withdrawn`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "No reason (`missing_reason`), a reason too long or holding NUL (`invalid_field`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn withdraw(
    caller: ScopedAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<WithdrawalRequest>,
) -> Result<Json<ConsentView>, ApiError> {
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
    // The limit counts the reason as sent, as the document states it (not after trimming).
    let sent = req.reason.as_deref().unwrap_or_default();
    if sent.chars().count() > MAX_NOTE || reason.contains('\0') {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("reason must be at most {MAX_NOTE} characters, without NUL characters"),
        ));
    }
    // A client-bound key withdraws its client's consents only (a consent's client never
    // changes, so looking first is enough); another client's is not there for it.
    if caller.binding().is_some()
        && !consents::get(&state.db, id)
            .await?
            .is_some_and(|c| caller.sees_client(&c.client))
    {
        return Err(ApiError::not_found(format!("no consent {id}")));
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
            let mut body = ConsentView::from(consent);
            body.warnings = written(visible, &state.settings);
            Ok(Json(body))
        }
        Withdrawn::NotFound => Err(ApiError::not_found(format!("no consent {id}"))),
        Withdrawn::AlreadyWithdrawn(_) => Err(ApiError::conflict(
            "already_withdrawn",
            format!("consent {id} is already withdrawn"),
        )),
    }
}
