//! The internal do-not-call list: add (agent), read (agent), deactivate (admin). An entry
//! blocks one `number` or, as a range block, every number starting with a `prefix`. The
//! list (`GET /v1/dnc`), filtered and exported, is `dnc_list.rs`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, AsAdmin, NoQuery, ScopedAgent};
use super::middleware::WriteProgress;
use super::AppState;
use super::{written, Notice};
use crate::domain::{fields, PhoneNumber, Prefix, Scope, Target};
use crate::error::{ApiError, ErrorBody};
use crate::store::dnc::{self, Added, Deactivated, DncEntry, EntryState, NewEntry};
use crate::store::keys;

pub fn router() -> OpenApiRouter<AppState> {
    // GET /v1/dnc (the list, or a number's entries) is in dnc_list.rs.
    OpenApiRouter::new()
        .routes(routes!(add))
        .routes(routes!(one, remove))
}

/// A number not to call, and where that applies.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    /// The number, in any spelling `GET /v1/check` takes (format `phone-number`); not a
    /// valid number is `422 invalid_number`. Give `number` or `prefix`, not both (`422
    /// number_and_prefix`).
    #[schema(format = "phone-number", example = "+48 601 234 567")]
    number: Option<String>,
    /// A range block (format `phone-prefix`): every number starting with this prefix, in
    /// international form (`+48 70`), a whole known country code followed by digits that
    /// start some valid number, no longer than a number; anything else is `422
    /// invalid_prefix`.
    #[schema(format = "phone-prefix")]
    prefix: Option<String>,
    /// Why (free text, at most 2000 characters, no NUL).
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$", example = "said stop")]
    reason: Option<String>,
    /// Who or what asked (free text: `agent`, `crm`…; at most 2000 characters, no NUL).
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$", example = "agent")]
    source: Option<String>,
    /// Only calls for this client are blocked (at most 200 characters, no control
    /// characters; compared without regard to case). Neither client nor campaign: every
    /// call.
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "acme"
    )]
    client: Option<String>,
    /// Only calls for this campaign (of `client`, if given) are blocked.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    campaign: Option<String>,
    /// When the entry stops blocking (RFC 3339, in the future: a time already past is
    /// `422 invalid_expires_at`). None: it blocks until removed.
    #[serde(default, deserialize_with = "super::time::optional")]
    #[schema(example = "2027-06-30T23:59:59Z")]
    expires_at: Option<DateTime<Utc>>,
    /// A note (free text, at most 2000 characters, no NUL).
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$")]
    note: Option<String>,
    /// The CRM's id of the flag (free text, at most 200 characters, no NUL), shown with
    /// the entry and in the change feed.
    #[schema(max_length = 200, pattern = "^[^\\u0000]*$", example = "crm-17")]
    external_id: Option<String>,
}

/// A do-not-call entry.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub(super) id: i64,
    /// A number entry's number, in E.164 form; a prefix entry has `prefix` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "+48601234567")]
    pub(super) number: Option<String>,
    /// A prefix entry's prefix (`+4870`): it blocks every number starting with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "+4870")]
    pub(super) prefix: Option<String>,
    /// `global`, `client` or `campaign`.
    #[schema(example = "global")]
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
    #[schema(example = "active")]
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
    /// The CRM's id of the flag, when it came with one (at most 200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) external_id: Option<String>,
    /// Present on the answer to a write that this process's `/v1/check` may not show
    /// yet (`not_yet_visible`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
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
            warnings: Vec::new(),
        }
    }
}

/// Says in the document what [`AddRequest`] needs besides its fields' own rules: exactly
/// one of `number` and `prefix` (`allOf` the fields and `oneOf` the two `required`), so a
/// client or fuzzer reading it sends one, never both or neither.
pub(super) fn document_add_request(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Type};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    // A field that is `null` counts as absent, as the handler reads it.
    let given = |field: &str| {
        ObjectBuilder::new()
            .property(field, ObjectBuilder::new().schema_type(Type::String))
            .required(field)
    };
    if let Some(fields) = components.schemas.remove("AddRequest") {
        let target = OneOfBuilder::new()
            .item(given("number"))
            .item(given("prefix"));
        let schema = AllOfBuilder::new()
            .description(Some("`number` or `prefix`: exactly one of the two"))
            .item(fields)
            .item(target);
        components
            .schemas
            .insert("AddRequest".to_string(), schema.into());
    }
}

fn text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    fields::text(field, value.as_deref()).map_err(|e| ApiError::unprocessable("invalid_field", e.0))
}

/// The CRM's id of a flag (at most 200 bytes).
fn external_id(value: Option<String>) -> Result<Option<String>, ApiError> {
    fields::external_id(value.as_deref()).map_err(|e| ApiError::unprocessable("invalid_field", e.0))
}

/// Add a number, or a prefix (a range block), to the do-not-call list.
///
/// Visible to this process's `/v1/check` before the answer is sent (else the answer says
/// `not_yet_visible`). Adding a number or prefix already blocked in that scope returns
/// the existing entry, extended if the new request asks for longer.
#[utoipa::path(
    post,
    operation_id = "add_dnc_entry",
    path = "/v1/dnc",
    tag = "dnc",
    request_body = AddRequest,
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 201, description = "The new entry", body = EntryView),
        (status = 200, description = "The number or prefix was already blocked in that scope: the existing entry (extended if asked)", body = EntryView),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "Not a valid number (`invalid_number`) or prefix (`invalid_prefix`), both given (`number_and_prefix`), a bad scope (`invalid_scope`), a text field too long or holding NUL (`invalid_field`), `expires_at` not in the future (`invalid_expires_at`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn add(
    caller: ScopedAgent,
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
    caller.may_write(&scope)?;
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
    let mut body = EntryView::from(entry);
    body.warnings = written(visible, &state.settings);
    Ok((status, Json(body)).into_response())
}

/// One entry.
#[utoipa::path(
    get,
    operation_id = "get_dnc_entry",
    path = "/v1/dnc/{id}",
    tag = "dnc",
    params(("id" = i64, Path, description = "The entry's id")),
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The entry", body = EntryView),
        (status = 404, description = "No such entry (`not_found`)", body = ErrorBody),
    )
)]
async fn one(
    caller: ScopedAgent,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
) -> Result<Json<EntryView>, ApiError> {
    // Another client's entry is not there for a client-bound key: the same 404.
    let entry = dnc::get(&state.db, id)
        .await?
        .filter(|e| caller.sees(&e.scope()))
        .ok_or_else(|| ApiError::not_found(format!("no do-not-call entry {id}")))?;
    let mut views = [EntryView::from(entry)];
    name_actors(&state, &mut views).await?;
    let [view] = views;
    Ok(Json(view))
}

/// Why an entry is deactivated.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RemoveRequest {
    /// Required (kept in the audit log): at most 2000 characters, not blank, no NUL.
    #[schema(value_type = String, required = true, max_length = 2000, pattern = "^[^\\u0000]*[^\\u0000\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000]*$", example = "entered by mistake")]
    reason: Option<String>,
}

/// Deactivate an entry (it is kept, never erased).
///
/// The entry stops blocking; the removal is written to the audit log with the key that
/// made it and the reason.
#[utoipa::path(
    delete,
    operation_id = "remove_dnc_entry",
    path = "/v1/dnc/{id}",
    tag = "dnc",
    params(("id" = i64, Path, description = "The entry's id")),
    request_body = RemoveRequest,
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The entry, now `active: false`, with who, when and why", body = EntryView),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 404, description = "No such entry (`not_found`)", body = ErrorBody),
        (status = 409, description = "Already deactivated (`already_inactive`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "No reason (`missing_reason`), a reason too long or holding NUL (`invalid_field`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn remove(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<RemoveRequest>,
) -> Result<Json<EntryView>, ApiError> {
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
            let mut body = EntryView::from(entry);
            body.warnings = written(visible, &state.settings);
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
