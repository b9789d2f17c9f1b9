//! `POST /v1/check`: up to [`MAX_BATCH`] numbers in one JSON body, answered in the order sent.

use std::borrow::Cow;
use std::time::Instant;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{count, json_body, Blocks, Checker, MAX_BATCH};
use crate::activity::Counts;
use crate::domain::{PhoneNumber, Scope};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::http::extract::{from_json, JsonBytes, NoQuery};
use crate::http::time::AnswerTime;
use crate::http::AppState;
use crate::index::freshness::{self, Warning};
use crate::index::{ConsentUse, Exemption, Reason, Snapshot};
use crate::metrics::{CheckMode, CheckResult, Metrics};
use crate::receipts::{Carried, Generations, Leaf};

/// Numbers to check, for one client and campaign.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchRequest<'a> {
    /// The numbers, in any spelling `GET /v1/check` takes; at most 10 000. One that is
    /// not a number gets an `error` in its result, the others their verdicts.
    /// (Borrowed from the body where no JSON escape forces a copy.)
    #[serde(borrow)]
    #[schema(value_type = Vec<String>, max_items = 10000)]
    numbers: Vec<Cow<'a, str>>,
    /// As in `GET /v1/check`: at most 200 characters, no control characters.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    client: Option<String>,
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    campaign: Option<String>,
}

/// The verdict on one number of a batch, or why it is not a number.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum BatchItem<'a> {
    Checked {
        /// The number as it was sent.
        input: &'a str,
        #[schema(value_type = String, example = "+48601234567")]
        number: PhoneNumber,
        allowed: bool,
        reasons: Vec<Reason<'a>>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        exemptions: Vec<Exemption<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        consent: Option<ConsentUse<'a>>,
    },
    Invalid {
        input: &'a str,
        /// `invalid_number`, and why.
        error: ErrorDetail,
    },
}

/// The verdicts, in the order the numbers were sent (for the document: the handler
/// writes `results` first and then [`BatchTail`], whose fields follow them).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct BatchResponse<'a> {
    results: Vec<BatchItem<'a>>,
    #[serde(flatten)]
    tail: BatchTail<'a>,
}

/// A batch answer after its `results`, which are written first:
/// `{"results":[…],"client":…,"snapshot_version":…,…,"receipt":…}`.
#[derive(Serialize, ToSchema)]
struct BatchTail<'a> {
    /// The client asked for (trimmed; absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    /// The campaign asked for (trimmed; absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<&'a str>,
    snapshot_version: i64,
    /// As in `GET /v1/check`.
    #[schema(value_type = std::collections::BTreeMap<String, Option<i64>>, example = json!({"robinson": 55}))]
    registries: Generations<'a>,
    #[schema(value_type = DateTime<Utc>)]
    checked_at: AnswerTime,
    /// As in `GET /v1/check`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
    /// The signed receipt of this answer, always its last member (README "Decision
    /// receipts"); absent when receipts are off. `POST /v1/receipts/verify` checks it.
    // Never set here: `Receipts::seal` writes it after the other members, whose bytes
    // it signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Carried>,
}

/// May these numbers be called? (up to 10 000)
///
/// One answer per number, in the order sent. Anything but `200` means: call none of them.
#[utoipa::path(
    post,
    operation_id = "check_numbers",
    path = "/v1/check",
    tag = "check",
    request_body = BatchRequest,
    extensions(("x-required-role" = json!("dialer")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "A result per number, in the order sent", body = BatchResponse),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "More than 10 000 numbers (`batch_too_large`), or a body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "The body is JSON of the wrong shape (`invalid_body`), or a client or campaign that is too long or holds control characters (`invalid_scope`)", body = ErrorBody),
        (status = 503, description = "Do not call: `not_ready`, `stale_registry` or `stale_snapshot` as for `GET /v1/check`", body = ErrorBody),
    )
)]
pub(super) async fn check_batch(
    caller: Checker<true>,
    State(state): State<AppState>,
    _: NoQuery,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let answer = answer_batch(&state, &caller, &body).await;
    if let Err(e) = &answer {
        // A refused batch counts once; the numbers of an answered one each count.
        if let Some(result) = CheckResult::of_error(e.code()) {
            state.metrics.checked(CheckMode::Batch, result, 1);
        }
    }
    state
        .metrics
        .check_took(CheckMode::Batch, started.elapsed());
    answer
}

async fn answer_batch(
    state: &AppState,
    caller: &Checker<true>,
    body: &[u8],
) -> Result<Response, ApiError> {
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    freshness::snapshot_gate(&state.index, &state.settings)?;
    let req: BatchRequest = from_json(body)?;
    if req.numbers.len() > MAX_BATCH {
        return Err(ApiError::client(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "{} numbers sent; at most {MAX_BATCH} per request",
                req.numbers.len()
            ),
        ));
    }
    let scope = caller.scope_of(req.client.as_deref(), req.campaign.as_deref())?;
    let now = Utc::now();
    let warnings = freshness::gate(&snapshot, &state.settings, now)?;
    let results: Vec<BatchItem> = req
        .numbers
        .iter()
        .map(|input| check_item(&snapshot, state, input, &scope, now))
        .collect();
    count_batch(&state.metrics, &results);
    let mut counts = Counts::default();
    for item in &results {
        if let BatchItem::Checked { reasons, .. } = item {
            count(&mut counts, reasons);
        }
    }
    state.activity.record(now, counts);
    // Written once, `results` first, then the rest; the receipt signs these bytes.
    let mut body = Vec::with_capacity(results.len() * 128 + 2048);
    body.extend_from_slice(RESULTS_FIRST);
    serde_json::to_writer(&mut body, &results).map_err(anyhow::Error::from)?;
    let tail = BatchTail {
        client: scope.client(),
        campaign: scope.campaign(),
        snapshot_version: snapshot.version,
        registries: Generations(snapshot.registries()),
        checked_at: AnswerTime(now),
        warnings,
        receipt: None,
    };
    let at = body.len();
    serde_json::to_writer(&mut body, &tail).map_err(anyhow::Error::from)?;
    body[at] = b',';
    state.receipts.seal(&mut body, Leaf::Blake3).await?;
    Ok(json_body(body))
}

/// Counts each number of an answered batch, and the reasons of its blocks.
fn count_batch(metrics: &Metrics, results: &[BatchItem]) {
    let (mut allowed, mut invalid) = (0, 0);
    let mut blocks = Blocks::default();
    for item in results {
        match item {
            BatchItem::Checked { reasons, .. } if reasons.is_empty() => allowed += 1,
            BatchItem::Checked { reasons, .. } => blocks.add(reasons),
            BatchItem::Invalid { .. } => invalid += 1,
        }
    }
    let blocked = results.len() as u64 - allowed - invalid;
    metrics.checked(CheckMode::Batch, CheckResult::Allowed, allowed);
    metrics.checked(CheckMode::Batch, CheckResult::Blocked, blocked);
    metrics.checked(CheckMode::Batch, CheckResult::Invalid, invalid);
    blocks.count(metrics);
}

/// How a batch answer begins: its `results` come first.
const RESULTS_FIRST: &[u8] = b"{\"results\":";

fn check_item<'a>(
    snapshot: &'a Snapshot,
    state: &AppState,
    input: &'a str,
    scope: &Scope,
    now: DateTime<Utc>,
) -> BatchItem<'a> {
    match PhoneNumber::parse(input, state.settings.region) {
        Ok(number) => {
            let verdict = snapshot.check(number, scope, now);
            BatchItem::Checked {
                input,
                number,
                allowed: verdict.allowed(),
                reasons: verdict.reasons,
                exemptions: verdict.exemptions,
                consent: verdict.consent,
            }
        }
        Err(e) => BatchItem::Invalid {
            input,
            error: ErrorDetail {
                code: "invalid_number".into(),
                message: e.message,
            },
        },
    }
}
