//! `GET /v1/history` (ops): what `/v1/check` would have answered for a number at an
//! instant, and why; without `at`, the number's timeline. See `history`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiQuery, AsOps};
use super::AppState;
use crate::domain::{PhoneNumber, Scope};
use crate::error::ApiError;
use crate::history;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/history", get(history))
}

#[derive(Deserialize)]
struct HistoryQuery {
    number: Option<String>,
    at: Option<DateTime<Utc>>,
    client: Option<String>,
    campaign: Option<String>,
}

async fn history(
    _caller: AsOps,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let raw = q.number.ok_or_else(|| {
        ApiError::bad_request("missing_number", "the number parameter is required")
    })?;
    let number = PhoneNumber::parse(&raw, state.settings.region)?;
    let Some(at) = q.at else {
        if q.client.is_some() || q.campaign.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                "client and campaign choose the call asked about at an instant: give `at` too \
                 (without it the timeline lists every scope)",
            ));
        }
        let t = history::timeline(&state.db, &state.index, number).await?;
        let events: Vec<Value> = t
            .events
            .into_iter()
            .map(|(at, mut event)| {
                event["at"] = json!(at);
                event
            })
            .collect();
        return Ok(Json(json!({
            "number": t.number,
            "history_from": t.history_from,
            "events": events,
        })));
    };
    let call = Scope::from_parts(q.client.as_deref(), q.campaign.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))?;
    let p = history::at(&state.db, &state.index, number, &call, at).await?;
    let reasons = p.reasons();
    // Consents and client policies (README "Consents") are not kept by instant: for a call
    // with a client the answer says so rather than implying they did not apply.
    let not_replayed: &[&str] = if call.client().is_some() {
        &["policy", "consent"]
    } else {
        &[]
    };
    Ok(Json(json!({
        "number": p.number,
        "at": p.at,
        "client": call.client(),
        "campaign": call.campaign(),
        "allowed": reasons.is_empty(),
        "reasons": reasons,
        "snapshot_version": p.snapshot_version,
        "snapshot_committed_at": p.version_committed_at,
        "dnc": p.dnc,
        "registries": p.registries,
        "history_from": p.history_from,
        "not_replayed": not_replayed,
    })))
}
