//! `GET /v1/check` and `POST /v1/check`: may these numbers be called? Answered from the
//! in-memory snapshot; nothing here touches Postgres.

use std::borrow::Cow;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::extract::{from_json, ApiQuery, AsDialer, JsonBytes, NoQuery};
use super::AppState;
use crate::activity::Counts;
use crate::domain::{PhoneNumber, Scope};
use crate::error::ApiError;
use crate::index::freshness::{self, Warning};
use crate::index::{ConsentUse, Exemption, Reason, Snapshot};
use crate::receipts::{BatchClaims, CheckClaims, Receipt};

/// Most numbers one batch request may carry.
pub const MAX_BATCH: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/check", get(check_one).post(check_batch))
}

#[derive(Deserialize)]
struct CheckQuery {
    number: Option<String>,
    client: Option<String>,
    campaign: Option<String>,
}

#[derive(Serialize)]
struct CheckResponse<'a> {
    number: PhoneNumber,
    allowed: bool,
    reasons: Vec<Reason<'a>>,
    /// Registry matches a consent of the client exempted (issue 15).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exemptions: Vec<Exemption<'a>>,
    /// The consent a `consent_required` policy was met by.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent: Option<ConsentUse<'a>>,
    snapshot_version: i64,
    checked_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Receipt>,
}

async fn check_one(
    _caller: AsDialer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CheckQuery>,
) -> Result<Response, ApiError> {
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    freshness::snapshot_gate(&state.index, &state.settings)?;
    let raw = q.number.ok_or_else(|| {
        ApiError::bad_request("missing_number", "the number parameter is required")
    })?;
    let number = PhoneNumber::parse(&raw, state.settings.region)?;
    let scope = scope_of(q.client.as_deref(), q.campaign.as_deref())?;
    let now = Utc::now();
    let warnings = freshness::gate(&snapshot, &state.settings, now)?;
    let verdict = snapshot.check(number, &scope, now);
    let mut counts = Counts::default();
    count(&mut counts, &verdict.reasons);
    state.activity.record(now, counts);
    tracing::debug!(number = %state.loggable(number), blocked = !verdict.allowed(), "checked");
    // After the verdict: its receipt (README "Decision receipts").
    let claims = CheckClaims::new(
        number,
        scope.client(),
        scope.campaign(),
        &verdict,
        snapshot.version,
        snapshot.registries(),
        now,
    );
    let receipt = state.receipts.issue(&claims).await?;
    let body = CheckResponse {
        number,
        allowed: verdict.allowed(),
        reasons: verdict.reasons,
        exemptions: verdict.exemptions,
        consent: verdict.consent,
        snapshot_version: snapshot.version,
        checked_at: now,
        warnings,
        receipt,
    };
    json_response(&body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest<'a> {
    /// Borrowed from the body where no JSON escape forces a copy.
    #[serde(borrow)]
    numbers: Vec<Cow<'a, str>>,
    client: Option<String>,
    campaign: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum BatchItem<'a> {
    Checked {
        input: &'a str,
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
        error: serde_json::Value,
    },
}

/// A batch answer after its `results`, which are written first (their exact bytes are
/// what the receipt binds): `{"results":[…],"snapshot_version":…,…}`.
#[derive(Serialize)]
struct BatchTail {
    snapshot_version: i64,
    checked_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Receipt>,
}

async fn check_batch(
    _caller: AsDialer,
    State(state): State<AppState>,
    _: NoQuery,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    freshness::snapshot_gate(&state.index, &state.settings)?;
    let req: BatchRequest = from_json(&body)?;
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
    let scope = scope_of(req.client.as_deref(), req.campaign.as_deref())?;
    let now = Utc::now();
    let warnings = freshness::gate(&snapshot, &state.settings, now)?;
    let results: Vec<BatchItem> = req
        .numbers
        .iter()
        .map(|input| check_item(&snapshot, &state, input, &scope, now))
        .collect();
    let mut counts = Counts::default();
    for item in &results {
        if let BatchItem::Checked { reasons, .. } = item {
            count(&mut counts, reasons);
        }
    }
    state.activity.record(now, counts);
    // Written once, `results` first: their exact bytes are what the receipt binds.
    let mut body = Vec::with_capacity(results.len() * 128 + 2048);
    body.extend_from_slice(RESULTS_FIRST);
    serde_json::to_writer(&mut body, &results).map_err(anyhow::Error::from)?;
    let claims = BatchClaims::new(
        scope.client(),
        scope.campaign(),
        results.len(),
        &body[RESULTS_FIRST.len()..],
        snapshot.version,
        snapshot.registries(),
        now,
    );
    let receipt = state.receipts.issue(&claims).await?;
    let tail = serde_json::to_vec(&BatchTail {
        snapshot_version: snapshot.version,
        checked_at: now,
        warnings,
        receipt,
    })
    .map_err(anyhow::Error::from)?;
    body.push(b',');
    body.extend_from_slice(&tail[1..]);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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
            error: json!({"code": "invalid_number", "message": e.message}),
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

/// The client and campaign a call is made for. Built with the same rules as entry scopes
/// (trimmed, bounded) so that a lookup compares like with like.
fn scope_of(client: Option<&str>, campaign: Option<&str>) -> Result<Scope, ApiError> {
    Scope::from_parts(client, campaign).map_err(|e| ApiError::unprocessable("invalid_scope", e.0))
}

/// Serializes straight to bytes: the body borrows from the snapshot, so it cannot be
/// handed to `Json` (which needs an owned value) without a copy.
fn json_response(body: &impl Serialize) -> Result<Response, ApiError> {
    // Room for an answer with its receipt, so that the buffer is not grown by copies.
    let mut bytes = Vec::with_capacity(1536);
    serde_json::to_writer(&mut bytes, body).map_err(anyhow::Error::from)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}
