//! `GET /v1/history` (ops): what `/v1/check` would have answered for a number at an
//! instant, and why; without `at`, the number's timeline. See `history`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, AsOps};
use super::AppState;
use crate::domain::{PhoneNumber, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::history;
use crate::history::dnc::EntryAt;
use crate::history::event::TimelineEvent;
use crate::history::registry::Membership;
use crate::history::rules::{ConsentAt, PolicyAt};
use crate::index::{ConsentUse, Exemption, Reason};

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

/// The answer: the verdict at `at`, or without `at` the number's timeline.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum HistoryAnswer<'a> {
    At(Box<PointAnswer<'a>>),
    Timeline(TimelineAnswer),
}

/// What `/v1/check` would have answered for a number at `at`, and why.
#[derive(Serialize, ToSchema)]
#[schema(as = HistoryAt)]
struct PointAnswer<'a> {
    /// The number in canonical E.164 form.
    #[schema(value_type = String, example = "+48601234567")]
    number: PhoneNumber,
    /// The instant asked about.
    at: DateTime<Utc>,
    /// The call's client and campaign, as asked (`null`: none).
    client: Option<&'a str>,
    campaign: Option<&'a str>,
    /// Whether the number could have been called then: `false` whenever `reasons` is
    /// not empty.
    allowed: bool,
    /// As `/v1/check` would have given them then.
    reasons: Vec<Reason<'a>>,
    exemptions: Vec<Exemption<'a>>,
    /// The consent a `consent_required` policy was met by.
    consent: Option<ConsentUse<'a>>,
    /// The data version in force at `at`, and when it was committed.
    snapshot_version: i64,
    snapshot_committed_at: DateTime<Utc>,
    /// Every do-not-call entry of the number that existed then, as it stood then.
    #[schema(value_type = Vec<EntryAt>)]
    dnc: &'a [EntryAt],
    /// Each registry's generation then, and whether the number was in it.
    #[schema(value_type = Vec<Membership>)]
    registries: &'a [Membership],
    /// The policy the call was under then (`null` without a client, or none in force).
    policy: Option<&'a PolicyAt>,
    /// The number's consents of the call's client known then, as they stood.
    #[schema(value_type = Vec<ConsentAt>)]
    consents: &'a [ConsentAt],
    /// The oldest instant history answers for.
    history_from: DateTime<Utc>,
    /// What is applied as it is today, not as it was (`consent_exempts`, a registry
    /// setting).
    #[schema(example = json!(["consent_exempts"]))]
    not_replayed: Vec<&'static str>,
}

/// A number's timeline.
#[derive(Serialize, ToSchema)]
#[schema(as = HistoryTimeline)]
struct TimelineAnswer {
    /// The number in canonical E.164 form.
    #[schema(value_type = String, example = "+48601234567")]
    number: PhoneNumber,
    /// The oldest instant history answers for.
    history_from: DateTime<Utc>,
    /// Entries, registry membership, consents and policy changes, oldest first.
    events: Vec<TimelineEvent>,
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
        (status = 200, description = "The verdict at `at` (`HistoryAt`), or without `at` the number's timeline (`HistoryTimeline`)", body = HistoryAnswer),
        (status = 400, description = "No `number` (`missing_number`), or `client`/`campaign` without `at` (`invalid_query`)", body = ErrorBody),
        (status = 422, description = "Not a valid number (`invalid_number`), a bad client or campaign (`invalid_scope`), `at` in the future (`invalid_at`) or before the history kept (`history_unavailable`)", body = ErrorBody),
        (status = 503, description = "This process's data is not loaded or behind (`not_ready`)", body = ErrorBody),
    )
)]

async fn history(
    _caller: AsOps,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
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
        let answer = HistoryAnswer::Timeline(TimelineAnswer {
            number: t.number,
            history_from: t.history_from,
            events: t.events,
        });
        return Ok(Json(answer).into_response());
    };
    let call = Scope::from_parts(q.client.as_deref(), q.campaign.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))?;
    let p = history::at(&state.db, &state.index, number, &call, at).await?;
    let verdict = p.verdict();
    let answer = HistoryAnswer::At(Box::new(PointAnswer {
        number: p.number,
        at: p.at,
        client: call.client(),
        campaign: call.campaign(),
        allowed: verdict.allowed(),
        reasons: verdict.reasons,
        exemptions: verdict.exemptions,
        consent: verdict.consent,
        snapshot_version: p.snapshot_version,
        snapshot_committed_at: p.version_committed_at,
        dnc: &p.dnc,
        registries: &p.registries,
        policy: p.policy.as_ref(),
        consents: &p.consents,
        history_from: p.history_from,
        not_replayed: p.not_replayed(),
    }));
    Ok(Json(answer).into_response())
}
