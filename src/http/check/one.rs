//! `GET /v1/check`: one number, its parameters read borrowed from the URI.

use std::borrow::Cow;
use std::time::Instant;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{count, json_body, Blocks, Checker};
use crate::activity::Counts;
use crate::domain::PhoneNumber;
use crate::error::{ApiError, ErrorBody};
use crate::http::time::AnswerTime;
use crate::http::{query, AppState};
use crate::index::freshness::{self, Warning};
use crate::index::{ConsentUse, Exemption, Reason};
use crate::metrics::{CheckMode, CheckResult};
use crate::receipts::{Carried, Generations, Leaf};

/// The parameters of `GET /v1/check`, for the document; the handler reads them borrowed
/// from the URI ([`query::borrowed`]), by the same rules as every other query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct CheckQuery {
    /// The number as typed or exported: `601234567`, `+48 601 234 567`, `0048601234567`,
    /// `tel:+48-601-234-567`, with an extension (`wew. 12`, `ext 12`) that is ignored.
    /// Without a country code it is read in `TARCZA_DEFAULT_REGION` (PL). A string that
    /// is not a valid phone number is `422 invalid_number`, never a guess.
    #[param(required = true, format = "phone-number", example = "+48 601 234 567")]
    number: Option<String>,
    /// The client the call is made for: entries scoped to this client apply too. At most
    /// 200 characters as sent, no control characters; blank means none.
    #[param(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "acme"
    )]
    client: Option<String>,
    /// The campaign the call is made for: entries scoped to it apply too. Same rules as
    /// `client`.
    #[param(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "summer-2026"
    )]
    campaign: Option<String>,
}

/// The fields of [`CheckQuery`], in their order.
const CHECK_PARAMETERS: [&str; 3] = ["number", "client", "campaign"];

/// The verdict on one number.
#[derive(Serialize, ToSchema)]
struct CheckResponse<'a> {
    /// The number in canonical E.164 form.
    #[schema(value_type = String, example = "+48601234567")]
    number: PhoneNumber,
    /// The client asked for (trimmed; absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    /// The campaign asked for (trimmed; absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<&'a str>,
    /// Whether the number may be called. `false` whenever `reasons` is not empty.
    allowed: bool,
    /// Every reason the number may not be called (empty when it may).
    reasons: Vec<Reason<'a>>,
    /// Registry matches a consent of the client exempted (where the registry is set to
    /// let a consent exempt); they do not block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exemptions: Vec<Exemption<'a>>,
    /// The consent a `consent_required` policy was met by.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent: Option<ConsentUse<'a>>,
    /// The data version the answer comes from.
    snapshot_version: i64,
    /// Each registry's generation the answer comes from (the import whose data was live;
    /// null without data), by registry name.
    #[schema(value_type = std::collections::BTreeMap<String, Option<i64>>, example = json!({"robinson": 55}))]
    registries: Generations<'a>,
    #[schema(value_type = DateTime<Utc>)]
    checked_at: AnswerTime,
    /// Present under a registry's `warn` stale policy when its data is past its maximum
    /// age (under `block`, the answer is `503 stale_registry` instead).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
    /// The signed receipt of this answer, always its last member (README "Decision
    /// receipts"); absent when receipts are off. `POST /v1/receipts/verify` checks it.
    // Never set here: `Receipts::seal` writes it after the other members, whose bytes
    // it signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Carried>,
}

/// May this number be called?
///
/// Answered from this process's in-memory snapshot of the do-not-call list and the
/// registries. Anything but `200` means: do not call.
#[utoipa::path(
    get,
    operation_id = "check_number",
    path = "/v1/check",
    tag = "check",
    params(CheckQuery),
    extensions(("x-required-role" = json!("dialer")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The verdict: `allowed`, and the `reasons` when not", body = CheckResponse),
        (status = 400, description = "No `number` parameter (`missing_number`)", body = ErrorBody),
        (status = 422, description = "Not a valid phone number (`invalid_number`, naming the input), or a client or campaign that is too long or holds control characters (`invalid_scope`)", body = ErrorBody),
        (status = 503, description = "Do not call: the data is not loaded yet (`not_ready`), a registry's data is too old (`stale_registry`), or this process's snapshot is stale (`stale_snapshot`)", body = ErrorBody),
    )
)]
pub(super) async fn check_one(
    caller: Checker<false>,
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let asked = query::borrowed::<CheckQuery, 3>(uri.query().unwrap_or(""), CHECK_PARAMETERS)?;
    let started = Instant::now();
    let answer = answer_one(&state, &caller, asked).await;
    let metrics = &state.metrics;
    match &answer {
        Ok((_, blocked)) => {
            let result = if *blocked {
                CheckResult::Blocked
            } else {
                CheckResult::Allowed
            };
            metrics.checked(CheckMode::Single, result, 1);
        }
        Err(e) => {
            if let Some(result) = CheckResult::of_error(e.code()) {
                metrics.checked(CheckMode::Single, result, 1);
            }
        }
    }
    metrics.check_took(CheckMode::Single, started.elapsed());
    answer.map(|(response, _)| response)
}

/// The answer to `GET /v1/check`, and whether the number is blocked (its reasons are
/// counted here).
async fn answer_one<const B: bool>(
    state: &AppState,
    caller: &Checker<B>,
    [number, client, campaign]: [Option<Cow<'_, str>>; 3],
) -> Result<(Response, bool), ApiError> {
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    freshness::snapshot_gate(&state.index, &state.settings)?;
    let raw = number.ok_or_else(|| {
        ApiError::bad_request("missing_number", "the number parameter is required")
    })?;
    let number = PhoneNumber::parse(&raw, state.settings.region)?;
    let scope = caller.scope_of(client.as_deref(), campaign.as_deref())?;
    let now = Utc::now();
    let warnings = freshness::gate(&snapshot, &state.settings, now)?;
    let verdict = snapshot.check(number, &scope, now);
    let mut counts = Counts::default();
    count(&mut counts, &verdict.reasons);
    state.activity.record(now, counts);
    tracing::debug!(number = %state.loggable(number), blocked = !verdict.allowed(), "checked");
    let mut blocks = Blocks::default();
    blocks.add(&verdict.reasons);
    blocks.count(&state.metrics);
    let blocked = !verdict.allowed();
    let body = CheckResponse {
        number,
        client: scope.client(),
        campaign: scope.campaign(),
        allowed: verdict.allowed(),
        reasons: verdict.reasons,
        exemptions: verdict.exemptions,
        consent: verdict.consent,
        snapshot_version: snapshot.version,
        registries: Generations(snapshot.registries()),
        checked_at: AnswerTime(now),
        warnings,
        receipt: None,
    };
    // Room for an answer with its receipt, so that the buffer is not grown by copies.
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, &body).map_err(anyhow::Error::from)?;
    // The answer's own bytes get their receipt (README "Decision receipts").
    state.receipts.seal(&mut bytes, Leaf::Sha256).await?;
    Ok((json_body(bytes), blocked))
}
