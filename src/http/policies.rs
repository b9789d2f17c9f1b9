//! Policies (admin): whether a client, or one campaign of a client, may call only numbers
//! with a valid consent (`consent_required`), and for which purpose. A campaign's policy
//! overrides its client's. Names compare like DNC scopes (case-insensitive, NFC).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, AsAdmin, NoQuery};
use super::middleware::WriteProgress;
use super::written;
use super::AppState;
use crate::domain::{Policy, Purpose, ScopeName};
use crate::error::ApiError;
use crate::store::policies::{self, PolicyRow, Set};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/policies/clients/{client}",
            get(get_client).put(put_client),
        )
        .route(
            "/v1/policies/clients/{client}/campaigns/{campaign}",
            get(get_campaign).put(put_campaign),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutRequest {
    consent_required: bool,
    /// The purpose the consent must be for; `marketing` when not given.
    purpose: Option<String>,
}

#[derive(Serialize)]
struct PolicyView {
    client: String,
    campaign: Option<String>,
    consent_required: bool,
    purpose: String,
    updated_at: DateTime<Utc>,
    updated_by: Option<i64>,
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
        }
    }
}

fn name(field: &str, raw: &str) -> Result<ScopeName, ApiError> {
    ScopeName::parse(field, raw).map_err(|e| ApiError::unprocessable("invalid_scope", e.0))
}

async fn put_client(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(client): ApiPath<String>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<PutRequest>,
) -> Result<Json<Value>, ApiError> {
    let client = name("client", &client)?;
    put(caller, state, progress, client, None, req).await
}

async fn put_campaign(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath((client, campaign)): ApiPath<(String, String)>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<PutRequest>,
) -> Result<Json<Value>, ApiError> {
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
    req: PutRequest,
) -> Result<Json<Value>, ApiError> {
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
            Set::Unchanged(row) => {
                return Ok(Json(
                    serde_json::to_value(PolicyView::from(row)).map_err(anyhow::Error::from)?,
                ))
            }
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
    Ok(Json(written(
        PolicyView::from(row),
        visible,
        &state.settings,
    )?))
}

/// The client's own policy (`null` if none) and its campaigns' policies.
async fn get_client(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(client): ApiPath<String>,
    _: NoQuery,
) -> Result<Json<Value>, ApiError> {
    let client = name("client", &client)?;
    let own = policies::get(&state.db, &client, None).await?;
    let campaigns: Vec<PolicyView> = policies::campaigns_of(&state.db, &client)
        .await?
        .into_iter()
        .map(PolicyView::from)
        .collect();
    Ok(Json(json!({
        "client": client.as_str(),
        "policy": own.map(PolicyView::from),
        "campaigns": campaigns,
    })))
}

/// The campaign's own policy (`null` if none) and the one `/check` applies to its calls
/// (`effective`: the campaign's, else its client's, else `null`).
async fn get_campaign(
    _caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath((client, campaign)): ApiPath<(String, String)>,
    _: NoQuery,
) -> Result<Json<Value>, ApiError> {
    let client = name("client", &client)?;
    let campaign = name("campaign", &campaign)?;
    let own = policies::get(&state.db, &client, Some(&campaign)).await?;
    let effective = match &own {
        Some(own) => Some(own.clone()),
        None => policies::get(&state.db, &client, None).await?,
    };
    Ok(Json(json!({
        "client": client.as_str(),
        "campaign": campaign.as_str(),
        "policy": own.map(PolicyView::from),
        "effective": effective.map(PolicyView::from),
    })))
}
