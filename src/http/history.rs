//! `GET /v1/history` (ops): what `/v1/check` would have answered for a number at an
//! instant, and why; without `at`, the number's timeline. See `history`.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, AsOps};
use super::AppState;
use crate::domain::{PhoneNumber, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::history;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// The number (required), in any spelling `GET /v1/check` takes (format
    /// `phone-number`; not a valid number is `422 invalid_number`).
    #[param(value_type = String, format = "phone-number", example = "601234567")]
    number: Option<String>,
    /// The instant asked about (RFC 3339, in the past; URL-encode the `+` of an offset).
    /// Without it: the number's timeline.
    #[serde(default, deserialize_with = "super::time::optional")]
    at: Option<DateTime<Utc>>,
    /// The call's client, as in `GET /v1/check` (only with `at`).
    #[param(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    client: Option<String>,
    /// The call's campaign (only with `at`).
    #[param(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    campaign: Option<String>,
}

/// What `/v1/check` would have answered for a number at an instant, and why.
///
/// With `at`: the verdict at that instant (`allowed`, `reasons`, `exemptions`,
/// `consent`), from the data version then live, with the number's do-not-call entries,
/// the registries' imports that made it, and for a call with a client the policy then in
/// force and the client's consents as they stood; `not_replayed` names what is applied as
/// it is today (`consent_exempts`, a registry setting). Without `at`: the number's
/// timeline (`events`, oldest first: entries, registry membership, consents, policy
/// changes).
#[utoipa::path(
    get,
    operation_id = "number_history",
    path = "/v1/history",
    tag = "history",
    params(HistoryQuery),
    extensions(("x-required-role" = json!("ops"))),
    responses(
        (status = 200, description = "The verdict at `at` (`number`, `at`, `client`, `campaign`, `allowed`, `reasons`, `exemptions`, `consent`, `snapshot_version`, `snapshot_committed_at`, `dnc`, `registries`, `policy`, `consents`, `history_from`, `not_replayed`), or without `at` the timeline (`number`, `history_from`, `events`)", body = serde_json::Value),
        (status = 400, description = "No `number` (`missing_number`), or `client`/`campaign` without `at` (`invalid_query`)", body = ErrorBody),
        (status = 422, description = "Not a valid number (`invalid_number`), a bad client or campaign (`invalid_scope`), `at` in the future (`invalid_at`) or before the history kept (`history_unavailable`)", body = ErrorBody),
        (status = 503, description = "This process's data is not loaded or behind (`not_ready`)", body = ErrorBody),
    )
)]

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
    let verdict = p.verdict();
    Ok(Json(json!({
        "number": p.number,
        "at": p.at,
        "client": call.client(),
        "campaign": call.campaign(),
        "allowed": verdict.allowed(),
        "reasons": verdict.reasons,
        "exemptions": verdict.exemptions,
        "consent": verdict.consent,
        "snapshot_version": p.snapshot_version,
        "snapshot_committed_at": p.version_committed_at,
        "dnc": p.dnc,
        "registries": p.registries,
        "policy": p.policy,
        "consents": p.consents,
        "history_from": p.history_from,
        "not_replayed": p.not_replayed(),
    })))
}
