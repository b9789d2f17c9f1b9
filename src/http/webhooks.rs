//! Webhook subscriptions (admin): create (the signing secret is shown once), list, show,
//! delete, resume a failing one, and its recent delivery attempts. Deliveries themselves
//! are `jobs::webhooks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery, AsAdmin, NoQuery};
use super::middleware::WriteProgress;
use super::AppState;
use crate::domain::webhook::generate_secret;
use crate::domain::{ChangeAction, Cursor, WebhookUrl};
use crate::error::{ApiError, ErrorBody};
use crate::store::webhooks::{self, Act, Acted, Delivery, Webhook};

const MAX_DESCRIPTION_CHARS: usize = 500;
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, delete))
        .routes(routes!(deliveries))
        .routes(routes!(resume))
}

/// A change type a subscription can ask for (the change feed's actions).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the values of `events`
enum WebhookEvent {
    #[schema(rename = "dnc.add")]
    DncAdd,
    #[schema(rename = "dnc.extend")]
    DncExtend,
    #[schema(rename = "dnc.expire")]
    DncExpire,
    #[schema(rename = "dnc.remove")]
    DncRemove,
    #[schema(rename = "registry.import")]
    RegistryImport,
}

/// A subscription to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    /// Where to POST each change: an `https` URL (`http` only with
    /// TARCZA_WEBHOOK_ALLOW_PRIVATE=true), at most 2000 characters, no user name or
    /// password, no fragment, whose host is a public address (a name is checked against
    /// every address it resolves to at each delivery).
    #[schema(
        max_length = 2000,
        pattern = "^https://",
        example = "https://crm.example.com/hooks/tarcza"
    )]
    url: String,
    /// The change types to deliver (at least one).
    #[schema(value_type = Vec<WebhookEvent>, min_items = 1, example = json!(["dnc.add", "dnc.extend"]))]
    events: Vec<String>,
    /// What the subscription is for: at most 500 characters, printable, not blank.
    #[schema(
        max_length = 500,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u001F\\u007F-\\u009F \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "CRM flags"
    )]
    description: Option<String>,
}

/// A subscription, without its secret.
#[derive(Serialize, ToSchema)]
struct WebhookView {
    id: i64,
    url: String,
    #[schema(value_type = Vec<WebhookEvent>)]
    events: Vec<String>,
    description: Option<String>,
    /// `active`: delivering, or retrying within TARCZA_WEBHOOK_RETRY_FOR; `failing`:
    /// retrying one change for longer (still, every TARCZA_WEBHOOK_BACKOFF_MAX);
    /// `expired`: the feed's retention removed changes it had not delivered, so it
    /// stopped (delete it, compare with POST /v1/dnc/drift, subscribe again); `deleted`.
    #[schema(example = "active")]
    state: &'static str,
    /// The last change delivered (or passed over, not being of its types): a cursor of
    /// GET /v1/changes.
    #[schema(value_type = String, example = "00000000000000120000000a")]
    delivered_through: Cursor,
    /// Failed attempts at the next change.
    attempts: i32,
    /// When the first of those failed.
    failing_since: Option<DateTime<Utc>>,
    /// When the next change is tried.
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
    deleted_at: Option<DateTime<Utc>>,
    deleted_by: Option<i64>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        let live = w.deleted_at.is_none();
        WebhookView {
            id: w.id,
            delivered_through: w.delivered_through(),
            state: if live { w.state.as_str() } else { "deleted" },
            url: w.url,
            events: w.events,
            description: w.description,
            attempts: w.attempts,
            failing_since: w.failing_since,
            next_attempt_at: live.then_some(w.next_attempt_at),
            last_error: w.last_error,
            created_at: w.created_at,
            created_by: w.created_by,
            deleted_at: w.deleted_at,
            deleted_by: w.deleted_by,
        }
    }
}

/// A new subscription, with its signing secret: shown only this once.
#[derive(Serialize, ToSchema)]
struct NewWebhook {
    #[serde(flatten)]
    view: WebhookView,
    /// The HMAC-SHA256 key of `X-Tarcza-Signature` (the whole text, as UTF-8). Not shown
    /// again: to rotate it, make a new subscription and delete this one.
    #[schema(example = "whsec_…")]
    secret: String,
}

/// Every subscription, deleted ones included.
#[derive(Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<WebhookView>,
}

/// One attempt to deliver a change.
#[derive(Serialize, ToSchema)]
struct DeliveryView {
    /// The change's id (its cursor; `X-Tarcza-Event-Id`).
    #[schema(value_type = String, example = "00000000000000120000000a")]
    event_id: Cursor,
    /// 1 for the first attempt at this change.
    attempt: i32,
    at: DateTime<Utc>,
    /// The receiver's HTTP status; null when it gave none (timeout, refused, unreachable).
    status_code: Option<i32>,
    /// Why it failed; null when delivered (a 2xx).
    error: Option<String>,
    duration_ms: i32,
    /// When the change is tried again; null when delivered.
    next_attempt_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            event_id: Cursor {
                version: d.event_version,
                seq: d.event_seq,
            },
            attempt: d.attempt,
            at: d.at,
            status_code: d.status_code,
            error: d.error,
            duration_ms: d.duration_ms,
            next_attempt_at: d.next_attempt_at,
        }
    }
}

/// A subscription and its latest attempts.
#[derive(Serialize, ToSchema)]
struct DeliveriesView {
    webhook: WebhookView,
    /// Newest first.
    deliveries: Vec<DeliveryView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// Attempts to show, 1 to 500 (`422 invalid_limit` otherwise).
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<i64>,
}

/// Subscribe a URL to changes; the signing secret is shown only in this answer.
///
/// Each change of the given types committed from now on is POSTed to the URL, one per
/// request, in commit order, at least once, signed (README "Webhooks").
#[utoipa::path(
    post,
    operation_id = "create_webhook",
    path = "/v1/webhooks",
    tag = "webhooks",
    request_body = WebhookRequest,
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 201, description = "The subscription, with its secret in `secret`", body = NewWebhook),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "A URL that is not https, has credentials or a fragment, or names a loopback or private address (`invalid_url`), no or unknown change types (`invalid_events`), a blank, long or unprintable description (`invalid_description`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn create(
    caller: AsAdmin,
    State(state): State<AppState>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> Result<(StatusCode, Json<NewWebhook>), ApiError> {
    let url = WebhookUrl::parse(&req.url, state.settings.webhooks.allow_private)
        .map_err(|e| ApiError::unprocessable("invalid_url", e))?;
    if req.events.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_events",
            "events must name at least one change type",
        ));
    }
    let mut events: Vec<ChangeAction> = Vec::with_capacity(req.events.len());
    for e in &req.events {
        let action: ChangeAction = e
            .parse()
            .map_err(|e: String| ApiError::unprocessable("invalid_events", e))?;
        if !events.contains(&action) {
            events.push(action);
        }
    }
    let description = match req.description.as_deref() {
        None => None,
        Some(d) => {
            let trimmed = d.trim();
            if trimmed.is_empty()
                || d.chars().count() > MAX_DESCRIPTION_CHARS
                || d.chars().any(char::is_control)
            {
                return Err(ApiError::unprocessable(
                    "invalid_description",
                    "description must be 1 to 500 characters of printable text",
                ));
            }
            Some(trimmed)
        }
    };
    let secret = generate_secret();
    progress.writing();
    let hook =
        webhooks::create(&state.db, caller.0.id, &url, &events, description, &secret).await?;
    progress.committed();
    tracing::info!(webhook = hook.id, "webhook subscription created");
    Ok((
        StatusCode::CREATED,
        Json(NewWebhook {
            view: hook.into(),
            secret,
        }),
    ))
}

/// Every subscription, without secrets.
#[utoipa::path(
    get,
    operation_id = "list_webhooks",
    path = "/v1/webhooks",
    tag = "webhooks",
    extensions(("x-required-role" = json!("admin"))),
    responses((status = 200, description = "The subscriptions, deleted ones included", body = WebhookList))
)]
async fn list(
    _caller: AsAdmin,
    State(state): State<AppState>,
    _: NoQuery,
) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = webhooks::list(&state.db)
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect();
    Ok(Json(WebhookList { webhooks }))
}

/// One subscription, without its secret.
#[utoipa::path(
    get,
    operation_id = "get_webhook",
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's id")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The subscription", body = WebhookView),
        (status = 404, description = "No such subscription (`not_found`)", body = ErrorBody),
    )
)]
async fn show(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
) -> Result<Json<WebhookView>, ApiError> {
    let hook = webhooks::get(&state.db, id)
        .await?
        .ok_or_else(|| missing(id))?;
    Ok(Json(hook.into()))
}

/// Delete a subscription: nothing more is delivered and its secret is forgotten (audited).
#[utoipa::path(
    delete,
    operation_id = "delete_webhook",
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's id")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The subscription, now deleted", body = WebhookView),
        (status = 404, description = "No such subscription (`not_found`)", body = ErrorBody),
        (status = 409, description = "Already deleted (`already_deleted`)", body = ErrorBody),
    )
)]
async fn delete(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Json<WebhookView>, ApiError> {
    act(caller, state, id, progress, Act::Delete).await
}

/// Try a failing subscription's next change at once, as active again (audited).
///
/// Its retries start over (TARCZA_WEBHOOK_RETRY_FOR from the next failure). An expired
/// subscription stays expired: the changes it missed are gone.
#[utoipa::path(
    post,
    operation_id = "resume_webhook",
    path = "/v1/webhooks/{id}/resume",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's id")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The subscription, due now", body = WebhookView),
        (status = 404, description = "No such subscription (`not_found`)", body = ErrorBody),
        (status = 409, description = "Deleted (`already_deleted`)", body = ErrorBody),
    )
)]
async fn resume(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Json<WebhookView>, ApiError> {
    act(caller, state, id, progress, Act::Resume).await
}

/// A subscription's state and its latest delivery attempts.
#[utoipa::path(
    get,
    operation_id = "list_webhook_deliveries",
    path = "/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's id"), DeliveriesQuery),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The subscription and its attempts, newest first", body = DeliveriesView),
        (status = 404, description = "No such subscription (`not_found`)", body = ErrorBody),
        (status = 422, description = "A `limit` out of range (`invalid_limit`)", body = ErrorBody),
    )
)]
async fn deliveries(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveriesView>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let hook = webhooks::get(&state.db, id)
        .await?
        .ok_or_else(|| missing(id))?;
    let deliveries = webhooks::deliveries(&state.db, id, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(Json(DeliveriesView {
        webhook: hook.into(),
        deliveries,
    }))
}

fn missing(id: i64) -> ApiError {
    ApiError::not_found(format!("no webhook subscription {id}"))
}

/// Deletes or resumes subscription `id`.
async fn act(
    caller: AsAdmin,
    state: AppState,
    id: i64,
    progress: WriteProgress,
    act: Act,
) -> Result<Json<WebhookView>, ApiError> {
    progress.writing();
    match webhooks::act(&state.db, caller.0.id, id, act).await? {
        Acted::Done(hook) => {
            progress.committed();
            tracing::info!(webhook = id, act = ?act, "webhook subscription changed");
            Ok(Json(hook.into()))
        }
        Acted::NotFound => Err(missing(id)),
        Acted::Deleted(_) => Err(ApiError::conflict(
            "already_deleted",
            format!("webhook subscription {id} is deleted"),
        )),
    }
}
