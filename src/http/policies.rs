//! Policies (admin): whether a client, or one campaign of a client, may call only numbers
//! with a valid consent (`consent_required`), and for which purpose. A campaign's policy
//! overrides its client's. Names compare like DNC scopes (case-insensitive, NFC).
//! Removing a policy is the admin's explicit act, audited: removing a `consent_required`
//! one lets numbers be called that were blocked for want of a consent.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, AsAdmin, NoQuery};
use super::middleware::WriteProgress;
use super::AppState;
use super::{written, Notice};
use crate::domain::{Policy, Purpose, ScopeName};
use crate::error::{ApiError, ErrorBody};
use crate::store::policies::{self, PolicyRow, Set};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_client, put_client, delete_client))
        .routes(routes!(get_campaign, put_campaign, delete_campaign))
}

/// What a client, or a campaign of it, requires of the numbers it calls.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PolicyRequest {
    /// Whether a number may be called only with a valid consent of the client for
    /// `purpose`.
    consent_required: bool,
    /// The purpose the consent must be for (1 to 64 letters, digits, `_`, `.` or `-`,
    /// starting with a letter or digit; `422 invalid_purpose` otherwise); `marketing`
    /// when not given.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", example = "marketing")]
    purpose: Option<String>,
}

/// A client's or a campaign's policy.
#[derive(Serialize, ToSchema)]
struct PolicyView {
    #[schema(example = "acme")]
    client: String,
    /// `null` for the client's own policy.
    campaign: Option<String>,
    consent_required: bool,
    #[schema(example = "marketing")]
    purpose: String,
    updated_at: DateTime<Utc>,
    updated_by: Option<i64>,
    /// Present on the answer to a write that this process's `/v1/check` may not show
    /// yet (`not_yet_visible`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
}

/// A client's own policy and its campaigns'.
#[derive(Serialize, ToSchema)]
struct ClientPolicies {
    /// The client, as written in the path.
    client: String,
    /// The client's own policy; `null` if none.
    policy: Option<PolicyView>,
    /// The policies of its campaigns.
    campaigns: Vec<PolicyView>,
}

/// A campaign's own policy and the one `/v1/check` applies to its calls.
#[derive(Serialize, ToSchema)]
struct CampaignPolicies {
    client: String,
    campaign: String,
    /// The campaign's own policy; `null` if none.
    policy: Option<PolicyView>,
    /// The campaign's policy, else its client's, else `null`.
    effective: Option<PolicyView>,
}

/// A policy removed, and the one `/v1/check` applies to the scope's calls now.
#[derive(Serialize, ToSchema)]
struct PolicyRemoved {
    /// The policy as it was before the removal.
    removed: PolicyView,
    /// For a campaign, its client's policy, which now applies to its calls; `null` when
    /// none (and always for a client).
    effective: Option<PolicyView>,
    /// `not_yet_visible` when this process's `/v1/check` may still apply the removed
    /// policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
}

impl From<PolicyRow> for PolicyView {
    fn from(r: PolicyRow) -> Self {
        PolicyView {
            client: r.client,
            campaign: r.campaign,
            consent_required: r.consent_required,
            purpose: r.purpose,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
            warnings: Vec::new(),
        }
    }
}

fn name(field: &str, raw: &str) -> Result<ScopeName, ApiError> {
    ScopeName::parse(field, raw).map_err(|e| ApiError::unprocessable("invalid_scope", e.0))
}

/// Set a client's policy.
///
/// Applies to every call for the client whose campaign has no policy of its own. Setting
/// the policy it already has changes nothing (and is not audited).
#[utoipa::path(
    put,
    operation_id = "set_client_policy",
    path = "/v1/policies/clients/{client}",
    tag = "policies",
    params(("client" = String, Path, description = "The client (at most 200 characters, not blank, no control characters; compared without regard to case)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "acme")),
    request_body = PolicyRequest,
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The policy as set (with `not_yet_visible` when this process's `/v1/check` may not apply it yet)", body = PolicyView),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "A name that is blank, too long or holds control characters (`invalid_scope`), not a purpose (`invalid_purpose`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn put_client(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(client): ApiPath<String>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<PolicyRequest>,
) -> Result<Json<PolicyView>, ApiError> {
    let client = name("client", &client)?;
    put(caller, state, progress, client, None, req).await
}

/// Set a campaign's policy.
///
/// Overrides its client's policy for calls made for the campaign.
#[utoipa::path(
    put,
    operation_id = "set_campaign_policy",
    path = "/v1/policies/clients/{client}/campaigns/{campaign}",
    tag = "policies",
    params(("client" = String, Path, description = "The client (at most 200 characters, not blank, no control characters; compared without regard to case)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "acme"), ("campaign" = String, Path, description = "The campaign of the client (same rules as the client)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "winter-2026")),
    request_body = PolicyRequest,
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The policy as set (with `not_yet_visible` when this process's `/v1/check` may not apply it yet)", body = PolicyView),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "A name that is blank, too long or holds control characters (`invalid_scope`), not a purpose (`invalid_purpose`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn put_campaign(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath((client, campaign)): ApiPath<(String, String)>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<PolicyRequest>,
) -> Result<Json<PolicyView>, ApiError> {
    let client = name("client", &client)?;
    let campaign = name("campaign", &campaign)?;
    put(caller, state, progress, client, Some(campaign), req).await
}

async fn put(
    caller: AsAdmin,
    state: AppState,
    progress: WriteProgress,
    client: ScopeName,
    campaign: Option<ScopeName>,
    req: PolicyRequest,
) -> Result<Json<PolicyView>, ApiError> {
    let policy = Policy {
        consent_required: req.consent_required,
        purpose: match req.purpose.as_deref() {
            Some(p) => Purpose::parse(p)?,
            None => Purpose::marketing(),
        },
    };
    progress.writing();
    let row =
        match policies::set(&state.db, caller.0.id, &client, campaign.as_ref(), &policy).await? {
            Set::Changed(row) => row,
            Set::Unchanged(row) => return Ok(Json(PolicyView::from(row))),
        };
    progress.committed();
    let visible = state
        .index
        .refresh_after_write(&state.db, progress.answer_by())
        .await;
    tracing::info!(
        policy_id = row.id,
        consent_required = row.consent_required,
        "policy set"
    );
    let mut body = PolicyView::from(row);
    body.warnings = written(visible, &state.settings);
    Ok(Json(body))
}

/// A client's own policy (`null` if none) and its campaigns' policies.
#[utoipa::path(
    get,
    operation_id = "get_client_policy",
    path = "/v1/policies/clients/{client}",
    tag = "policies",
    params(("client" = String, Path, description = "The client (at most 200 characters, not blank, no control characters; compared without regard to case)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "acme")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The client's policy and its campaigns'", body = ClientPolicies),
        (status = 422, description = "A name that is blank, too long or holds control characters (`invalid_scope`)", body = ErrorBody),
    )
)]
async fn get_client(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(client): ApiPath<String>,
    _: NoQuery,
) -> Result<Json<ClientPolicies>, ApiError> {
    let client = name("client", &client)?;
    let own = policies::get(&state.db, &client, None).await?;
    let campaigns: Vec<PolicyView> = policies::campaigns_of(&state.db, &client)
        .await?
        .into_iter()
        .map(PolicyView::from)
        .collect();
    Ok(Json(ClientPolicies {
        client: client.as_str().to_string(),
        policy: own.map(PolicyView::from),
        campaigns,
    }))
}

/// A campaign's own policy and the one `/v1/check` applies to its calls.
///
/// `effective`: the campaign's policy, else its client's, else `null`.
#[utoipa::path(
    get,
    operation_id = "get_campaign_policy",
    path = "/v1/policies/clients/{client}/campaigns/{campaign}",
    tag = "policies",
    params(("client" = String, Path, description = "The client (at most 200 characters, not blank, no control characters; compared without regard to case)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "acme"), ("campaign" = String, Path, description = "The campaign of the client (same rules as the client)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "winter-2026")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The campaign's policy and the effective one", body = CampaignPolicies),
        (status = 422, description = "A name that is blank, too long or holds control characters (`invalid_scope`)", body = ErrorBody),
    )
)]
async fn get_campaign(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath((client, campaign)): ApiPath<(String, String)>,
    _: NoQuery,
) -> Result<Json<CampaignPolicies>, ApiError> {
    let client = name("client", &client)?;
    let campaign = name("campaign", &campaign)?;
    let own = policies::get(&state.db, &client, Some(&campaign)).await?;
    let effective = match &own {
        Some(own) => Some(own.clone()),
        None => policies::get(&state.db, &client, None).await?,
    };
    Ok(Json(CampaignPolicies {
        client: client.as_str().to_string(),
        campaign: campaign.as_str().to_string(),
        policy: own.map(PolicyView::from),
        effective: effective.map(PolicyView::from),
    }))
}

/// Remove a client's own policy.
///
/// Calls for the client (and for its campaigns without a policy of their own) are then
/// under no policy. Removing a `consent_required` policy makes numbers callable that were
/// blocked for want of a consent: the admin's explicit act, written to the audit log
/// (`policy.remove`). The campaigns' own policies stay.
#[utoipa::path(
    delete,
    operation_id = "remove_client_policy",
    path = "/v1/policies/clients/{client}",
    tag = "policies",
    params(("client" = String, Path, description = "The client (at most 200 characters, not blank, no control characters; compared without regard to case)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "acme")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The policy removed (with `not_yet_visible` when this process's `/v1/check` may still apply it)", body = PolicyRemoved),
        (status = 404, description = "The client has no policy of its own (`not_found`)", body = ErrorBody),
        (status = 422, description = "A name that is blank, too long or holds control characters (`invalid_scope`)", body = ErrorBody),
    )
)]
async fn delete_client(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(client): ApiPath<String>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Json<PolicyRemoved>, ApiError> {
    let client = name("client", &client)?;
    remove(caller, state, progress, client, None).await
}

/// Remove a campaign's own policy.
///
/// Calls for the campaign fall back to its client's policy (`effective`), or to none.
/// Removing a `consent_required` policy can make numbers callable that were blocked for
/// want of a consent: the admin's explicit act, audited (`policy.remove`).
#[utoipa::path(
    delete,
    operation_id = "remove_campaign_policy",
    path = "/v1/policies/clients/{client}/campaigns/{campaign}",
    tag = "policies",
    params(("client" = String, Path, description = "The client (at most 200 characters, not blank, no control characters; compared without regard to case)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "acme"), ("campaign" = String, Path, description = "The campaign of the client (same rules as the client)", max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "winter-2026")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The policy removed, and the client's now in force for the campaign (with `not_yet_visible` when this process's `/v1/check` may still apply the removed one)", body = PolicyRemoved),
        (status = 404, description = "The campaign has no policy of its own (`not_found`)", body = ErrorBody),
        (status = 422, description = "A name that is blank, too long or holds control characters (`invalid_scope`)", body = ErrorBody),
    )
)]
async fn delete_campaign(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath((client, campaign)): ApiPath<(String, String)>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Json<PolicyRemoved>, ApiError> {
    let client = name("client", &client)?;
    let campaign = name("campaign", &campaign)?;
    remove(caller, state, progress, client, Some(campaign)).await
}

async fn remove(
    caller: AsAdmin,
    state: AppState,
    progress: WriteProgress,
    client: ScopeName,
    campaign: Option<ScopeName>,
) -> Result<Json<PolicyRemoved>, ApiError> {
    progress.writing();
    let Some(row) = policies::remove(&state.db, caller.0.id, &client, campaign.as_ref()).await?
    else {
        let whose = match &campaign {
            Some(c) => format!("campaign {:?} of client {:?}", c.as_str(), client.as_str()),
            None => format!("client {:?}", client.as_str()),
        };
        return Err(ApiError::not_found(format!(
            "{whose} has no policy of its own"
        )));
    };
    progress.committed();
    let visible = state
        .index
        .refresh_after_write(&state.db, progress.answer_by())
        .await;
    let effective = match campaign {
        Some(_) => policies::get(&state.db, &client, None).await?,
        None => None,
    };
    tracing::info!(policy_id = row.id, "policy removed");
    Ok(Json(PolicyRemoved {
        removed: PolicyView::from(row),
        effective: effective.map(PolicyView::from),
        warnings: written(visible, &state.settings),
    }))
}
