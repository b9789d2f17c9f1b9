//! `GET /v1/check` and `POST /v1/check`: may these numbers be called? Answered from the
//! in-memory snapshot; nothing here touches Postgres. Each answer is counted in the
//! metrics (by result, and the reasons of blocks) with its latency.

use std::borrow::Cow;
use std::time::Instant;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{from_json, JsonBytes, NoQuery, ScopedDialer};
use super::time::AnswerTime;
use super::{query, AppState};
use crate::activity::Counts;
use crate::domain::{PhoneNumber, Scope};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::index::freshness::{self, Warning};
use crate::index::{ConsentUse, Exemption, Reason, Snapshot};
use crate::metrics::{CheckMode, CheckResult, Metrics};
use crate::receipts::{Carried, Generations};

/// Most numbers one batch request may carry.
pub const MAX_BATCH: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check_one, check_batch))
}

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
async fn check_one(
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

/// The caller of a check ([`ScopedDialer`]: a client-bound key checks for its client;
/// `BATCH` for `POST`). Before the data is loaded even a key cannot be checked: that
/// refusal (`not_ready`) counts as a check.
struct Checker<const BATCH: bool>(ScopedDialer);

impl<const BATCH: bool> FromRequestParts<AppState> for Checker<BATCH> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match ScopedDialer::from_request_parts(parts, state).await {
            Ok(caller) => Ok(Checker(caller)),
            Err(e) => {
                if e.code() == "not_ready" {
                    let mode = if BATCH {
                        CheckMode::Batch
                    } else {
                        CheckMode::Single
                    };
                    state.metrics.checked(mode, CheckResult::NotReady, 1);
                }
                Err(e)
            }
        }
    }
}

/// The reasons of blocks among the answers of one request, for the metrics.
#[derive(Default)]
struct Blocks<'a> {
    dnc: u64,
    consent: u64,
    registries: Vec<(&'a str, u64)>,
}

impl<'a> Blocks<'a> {
    fn add(&mut self, reasons: &[Reason<'a>]) {
        if reasons.iter().any(|r| matches!(r, Reason::Dnc { .. })) {
            self.dnc += 1;
        }
        if reasons.iter().any(|r| matches!(r, Reason::Consent { .. })) {
            self.consent += 1;
        }
        for r in reasons {
            if let Reason::Registry { registry } = r {
                match self.registries.iter_mut().find(|(n, _)| n == registry) {
                    Some((_, count)) => *count += 1,
                    None => self.registries.push((registry, 1)),
                }
            }
        }
    }

    fn count(&self, metrics: &Metrics) {
        metrics.dnc_blocks(self.dnc);
        metrics.consent_blocks(self.consent);
        for (registry, count) in &self.registries {
            metrics.registry_blocks(registry, *count);
        }
    }
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
    state.receipts.seal(&mut bytes).await?;
    Ok((json_body(bytes), blocked))
}

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
async fn check_batch(
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
    state.receipts.seal(&mut body).await?;
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

/// Counts a verdict for the console's chart of recent checks.
fn count(counts: &mut Counts, reasons: &[Reason]) {
    let dnc = reasons.iter().any(|r| matches!(r, Reason::Dnc { .. }));
    let registry = reasons.iter().any(|r| matches!(r, Reason::Registry { .. }));
    // A missing consent blocks too: counted as blocked, under neither source.
    counts.add(!reasons.is_empty(), dnc, registry);
}

impl<const BATCH: bool> Checker<BATCH> {
    /// The client and campaign a call is checked for. Built with the same rules as entry
    /// scopes (trimmed, bounded) so that a lookup compares like with like; a client-bound
    /// key's check is for its client whatever was asked (another client: `403`). The
    /// receipt's claims name this scope, the one evaluated.
    fn scope_of(&self, client: Option<&str>, campaign: Option<&str>) -> Result<Scope, ApiError> {
        let asked = Scope::from_parts(client, campaign)
            .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))?;
        self.0.check_scope(asked)
    }
}

/// An answer written straight to bytes: it borrows from the snapshot, so it cannot be
/// handed to `Json` (which needs an owned value) without a copy, and its receipt signs
/// those bytes.
fn json_body(bytes: Vec<u8>) -> Response {
    // As a boxed slice the bytes become the body without a shared header of their own
    // (`Bytes::from(Vec)` allocates one when the capacity is not all used); shrinking
    // the buffer in place costs no copy while the answer fills more than half of it.
    let body = axum::body::Body::from(bytes::Bytes::from(bytes.into_boxed_slice()));
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
    response
}

const JSON_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/json");
