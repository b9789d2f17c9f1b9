//! `GET /v1/receipts/keys` (no key needed: whoever holds a receipt may verify it) and
//! `POST /v1/receipts/verify` (dialer): the public keys that verify receipts, and a
//! verification done here. See `receipts` and README "Decision receipts".

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{from_json, JsonBytes, NoQuery, ScopedDialer};
use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::receipts::{verify, Carried, PublishedKey, Submitted, Verified, FORMAT, FORMAT_1};
use crate::store::receipt_keys;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(keys))
        .routes(routes!(verify_one))
}

/// The public keys that verify decision receipts (no key needed).
///
/// Every key that signed receipts still kept, with when it signed, and the id of the key
/// this process signs with now (null when receipts are off).
#[utoipa::path(
    get,
    operation_id = "receipt_keys",
    path = "/v1/receipts/keys",
    tag = "receipts",
    security(()),
    responses(
        (status = 200, description = "The keys, and the one this process signs with", body = KeysAnswer),
    )
)]
async fn keys(State(state): State<AppState>, _: NoQuery) -> Result<Json<KeysAnswer>, ApiError> {
    let now = Utc::now();
    let keys: Vec<PublishedKey> = receipt_keys::list(&state.db)
        .await?
        .iter()
        .filter_map(|row| PublishedKey::from_row(row, now))
        .collect();
    Ok(Json(KeysAnswer {
        keys,
        signing_key_id: state.receipts.key_id().map(str::to_owned),
    }))
}

/// The public keys that verify receipts.
#[derive(Serialize, ToSchema)]
struct KeysAnswer {
    /// Every key that signed receipts still kept, with when it signed.
    keys: Vec<PublishedKey>,
    /// The key this process signs with now (null when receipts are off).
    signing_key_id: Option<String>,
}

/// What a verification found.
#[derive(Serialize, ToSchema)]
struct VerifyAnswer {
    /// Whether the receipt is tarcza's signature over exactly these bytes.
    valid: bool,
    /// The receipt's format: 2 (signs the answer's own bytes) or 1 (carries its claims).
    format: u8,
    /// The published key the receipt names (null when it names none of tarcza's keys).
    key: Option<PublishedKey>,
    /// Format 2, when valid: the signed answer (without its receipt), parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Value>,
    /// Format 1, when valid: the signed claims, parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<Value>,
    /// When valid: the signed statement (the batch's Merkle root, the key, the time), parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    signed: Option<Value>,
    /// When not valid: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

impl VerifyAnswer {
    /// The answer for a receipt of `format` whose check came to `checked`.
    fn of(format: u8, key: Option<PublishedKey>, checked: Result<Verified, String>) -> Self {
        let mut answer = VerifyAnswer {
            valid: checked.is_ok(),
            format,
            key,
            answer: None,
            claims: None,
            signed: None,
            problem: None,
        };
        match checked {
            Ok(v) => {
                if format == FORMAT_1 {
                    answer.claims = Some(v.says);
                } else {
                    answer.answer = Some(v.says);
                }
                answer.signed = Some(v.signed);
            }
            Err(problem) => answer.problem = Some(problem),
        }
        answer
    }
}

/// Verify a decision receipt: a whole `/v1/check` answer, or a format-1 receipt.
///
/// The body is a whole `/v1/check` answer (single or batch) exactly as it was received,
/// byte for byte: its receipt signs the answer's own bytes before it (format 2). A
/// receipt of format 1 (issued before format 2) verifies on its own, or in the answer
/// that carried it. The answer says `valid: true` with what the signed answer (`answer`)
/// or claims (`claims`) say, or `valid: false` and the `problem`.
#[utoipa::path(
    post,
    operation_id = "verify_receipt",
    path = "/v1/receipts/verify",
    tag = "receipts",
    request_body(
        description = "A whole `/v1/check` answer exactly as received, or a format-1 receipt",
        content((Submitted = "application/json")),
    ),
    extensions(("x-required-role" = json!("dialer")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "`valid`, the `format` and the `key`; when valid, the signed `answer` (format 2) or `claims` (format 1) and `signed`; when not, the `problem`", body = VerifyAnswer),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "Neither an answer carrying a receipt nor a format-1 receipt, or a malformed format-1 receipt (`invalid_receipt`), or JSON of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn verify_one(
    _caller: ScopedDialer,
    State(state): State<AppState>,
    _: NoQuery,
    JsonBytes(body): JsonBytes,
) -> Result<Json<VerifyAnswer>, ApiError> {
    let fields: HashMap<String, &RawValue> = from_json(&body)?;
    let invalid = |m: String| ApiError::unprocessable("invalid_receipt", m);
    let format_2 = fields
        .get("receipt")
        .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
        .is_some_and(|r| r.get("claims").is_none());
    if format_2 {
        let (checked, key) = match verify::split(&body).and_then(|(answer, receipt)| {
            serde_json::from_slice::<Carried>(receipt)
                .map(|receipt| (answer, receipt))
                .map_err(|e| {
                    format!("the receipt is malformed or is not the answer's last member: {e}")
                })
        }) {
            Ok((answer, receipt)) => {
                let key = published(&state, &receipt.key_id).await?;
                (verify::verify_answer(&answer, &receipt, key.as_ref()), key)
            }
            Err(problem) => (Err(problem), None),
        };
        return Ok(Json(VerifyAnswer::of(FORMAT, key, checked)));
    }
    let receipt: Submitted = match fields.get("receipt") {
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|e| invalid(format!("the answer's receipt is malformed: {e}")))?,
        None => from_json(&body).map_err(|_| {
            invalid(
                "send a whole /v1/check answer exactly as received, or a format-1 receipt \
                 ({\"key_id\", \"claims\", \"path\", \"signed\", \"signature\"})"
                    .into(),
            )
        })?,
    };
    let key = published(&state, &receipt.key_id).await?;
    let checked = verify::verify(&receipt, key.as_ref())
        .and_then(|v| answer_matches(&fields, &v.says).map(|()| v));
    Ok(Json(VerifyAnswer::of(FORMAT_1, key, checked)))
}

/// The published key `id`, if it is one of tarcza's receipt keys.
async fn published(state: &AppState, id: &str) -> Result<Option<PublishedKey>, ApiError> {
    Ok(match receipt_keys::get(&state.db, id).await? {
        Some(row) => PublishedKey::from_row(&row, Utc::now()),
        None => None,
    })
}

/// For a whole format-1 answer: its fields are the signed ones (a batch's `results`, by
/// the SHA-256 of their exact bytes).
fn answer_matches(fields: &HashMap<String, &RawValue>, claims: &Value) -> Result<(), String> {
    if !fields.contains_key("receipt") {
        return Ok(());
    }
    let field = |name: &str| -> Value {
        fields
            .get(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or(Value::Null)
    };
    let mut names = vec!["snapshot_version", "checked_at"];
    if let Some(results) = fields.get("results") {
        if claims["kind"] != "batch" {
            return Err("the answer is a batch, the receipt is not a batch's".into());
        }
        let digest = crate::domain::hash::hex(&Sha256::digest(results.get().as_bytes()));
        if claims["results_sha256"] != digest.as_str() {
            return Err(
                "the answer's results are not the ones the receipt signs (send the body \
                 exactly as it was received)"
                    .into(),
            );
        }
    } else {
        if claims["kind"] != "check" {
            return Err("the answer is a single check, the receipt is not one's".into());
        }
        names.extend(["number", "allowed", "reasons", "exemptions", "consent"]);
    }
    for name in names {
        if field(name) != claims[name] {
            return Err(format!(
                "the answer's {name} is not the one the receipt signs"
            ));
        }
    }
    Ok(())
}
