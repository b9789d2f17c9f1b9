//! An import of a registry file uploaded as the request body: its parameters, checked
//! before a byte is read, and the import, streamed.

use std::io;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures_util::TryStreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::imports::{ImportView, REJECTS_SHOWN};
use super::registry;
use crate::domain::{Encoding, Format, HashScheme, Mode};
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, ApiQuery, AsOps};
use crate::http::AppState;
use crate::import::ImportRequest;
use crate::store::imports;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportQuery {
    /// `snapshot` (the file is the whole registry) or `delta` (additions and removals,
    /// an `op` column).
    #[param(value_type = Option<String>, pattern = "^(snapshot|delta)$", default = "snapshot")]
    mode: Option<String>,
    /// `csv` (numbers) or `sha256` (one SHA-256 per line, see `hash_scheme`).
    #[param(value_type = Option<String>, pattern = "^(csv|sha256)$", default = "csv")]
    format: Option<String>,
    /// For `format=sha256` only (else `422 invalid_parameter`): what was hashed,
    /// `e164_digits` (`48512345678`), `e164_plus` (`+48512345678`) or `national`.
    #[param(value_type = Option<String>, pattern = "^[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*(e164_digits|e164_plus|national)[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$")]
    hash_scheme: Option<String>,
    /// The file's text encoding: `utf-8` (default), `windows-1250` (also `cp1250`) or
    /// `iso-8859-2` (also `latin2`), in any case.
    #[param(value_type = Option<String>, pattern = "^[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*([uU][tT][fF]-?8|[wW][iI][nN][dD][oO][wW][sS]-1250|[cC][pP]1250|[iI][sS][oO]-8859-2|[lL][aA][tT][iI][nN]2)[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$", example = "windows-1250")]
    encoding: Option<String>,
    /// The SHA-256 of the file as sent (64 hex digits): another file is `refused`.
    #[param(pattern = "^[0-9a-fA-F]{64}$")]
    sha256: Option<String>,
    /// The number of data rows (header and blank lines not counted): another count is
    /// `refused`.
    #[param(minimum = 0)]
    expected_rows: Option<i64>,
    /// Accept an import that removes more than `max_shrink` of the entries.
    #[serde(default)]
    #[param(default = false)]
    force: bool,
    /// Largest share (0 to 1) of the current entries the import may remove (default
    /// TARCZA_MAX_SHRINK).
    #[param(minimum = 0.0, maximum = 1.0)]
    max_shrink: Option<f64>,
    /// Largest share (0 to 1) of rejected rows before the import is refused (default
    /// TARCZA_MAX_REJECT_RATE).
    #[param(minimum = 0.0, maximum = 1.0)]
    max_reject_rate: Option<f64>,
}

fn share(name: &str, value: Option<f64>, default: f64) -> Result<f64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::unprocessable(
            "invalid_parameter",
            format!("{name}={v} is not a share between 0 and 1"),
        )),
    }
}

/// A registry file's bytes, as exported: the body of an import (a type for its schema
/// only; the handler streams the body).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct RegistryFile(Vec<u8>);

/// Import a registry file (the request body).
///
/// The body is the file as exported: CSV or a hashed list, plain, gzip or a zip holding
/// one file, streamed (never held whole). The answer comes when the import has ended,
/// with its record: `succeeded` (the data is live), `failed` or `refused` (nothing
/// changed, `error` says why). While it runs, `GET /v1/registries/{name}` shows it with
/// its progress.
#[utoipa::path(
    post,
    operation_id = "start_import",
    path = "/v1/registries/{name}/imports",
    tag = "registries",
    params(("name" = String, Path, description = "The registry's name", example = "robinson"), ImportQuery),
    request_body(
        description = "The registry file: CSV (a `phone`/`number`/`numer`… column, else the first; an `op` column for deltas) or one SHA-256 per line; plain, gzip or zip",
        content(
            (RegistryFile = "text/csv"),
            (RegistryFile = "application/octet-stream"),
        ),
    ),
    extensions(("x-required-role" = json!("ops"))),
    responses(
        (status = 202, description = "The import has ended: its record, with `status` `succeeded`, `failed` or `refused` (then `error` says why and nothing changed) and the first rejected rows", body = ImportView),
        (status = 404, description = "No registry of that name (`unknown_registry`)", body = ErrorBody),
        (status = 409, description = "Another import of the registry is running (`import_in_progress`)", body = ErrorBody),
        (status = 422, description = "A parameter that cannot be used: `invalid_mode`, `unsupported_format`, `invalid_hash_scheme` or `hash_scheme` without `format=sha256` (`invalid_parameter`), `unsupported_encoding`, a `sha256` that is not 64 hex digits or a share outside 0 to 1 (`invalid_parameter`)", body = ErrorBody),
    )
)]
pub(super) async fn start_import(
    caller: AsOps,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ImportView>), ApiError> {
    let registry = registry(&state, &name).await?;
    // The upload's size, when the client says it: progress is then also a fraction.
    let size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mode = match q.mode.as_deref() {
        None => Mode::Snapshot,
        Some(mode) => mode.parse::<Mode>().map_err(|_| {
            ApiError::unprocessable(
                "invalid_mode",
                format!("mode={mode:?} is not known; use snapshot or delta"),
            )
        })?,
    };
    let scheme = q
        .hash_scheme
        .as_deref()
        .map(|s| s.trim().parse::<HashScheme>())
        .transpose()
        .map_err(|e| ApiError::unprocessable("invalid_hash_scheme", e))?;
    let format = match (q.format.as_deref().unwrap_or("csv"), scheme) {
        ("csv", None) => Format::Csv,
        ("csv", Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_parameter",
                "hash_scheme only applies to format=sha256",
            ))
        }
        ("sha256", scheme) => Format::Sha256(scheme.unwrap_or(HashScheme::E164Digits)),
        (other, _) => {
            return Err(ApiError::unprocessable(
                "unsupported_format",
                format!("format={other:?} is not supported; use csv or sha256"),
            ))
        }
    };
    let encoding = q
        .encoding
        .as_deref()
        .map(str::parse::<Encoding>)
        .transpose()
        .map_err(|e| ApiError::unprocessable("unsupported_encoding", e))?;
    let expected_rows = q
        .expected_rows
        .map(|n| {
            u64::try_from(n).map_err(|_| {
                ApiError::unprocessable(
                    "invalid_parameter",
                    format!("expected_rows={n} is not a count of rows (0 or more)"),
                )
            })
        })
        .transpose()?;
    if let Some(sha) = &q.sha256 {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::unprocessable(
                "invalid_parameter",
                "sha256 must be 64 hex digits",
            ));
        }
    }
    let req = ImportRequest {
        registry,
        mode,
        format,
        encoding,
        expected_sha256: q.sha256,
        expected_rows,
        source: None,
        source_time: None,
        force: q.force,
        max_shrink: share("max_shrink", q.max_shrink, state.settings.max_shrink)?,
        max_reject_rate: share(
            "max_reject_rate",
            q.max_reject_rate,
            state.settings.max_reject_rate,
        )?,
        actor: Some(caller.0.id),
        size,
    };
    let body = body.into_data_stream().map_err(io::Error::other);
    // Its own task: a client that hangs up must not cancel the import half-way.
    let run = crate::import::run(state.importer(), req, body);
    let import = tokio::spawn(run)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("import task failed: {e}")))??;
    let rejects = imports::rejects(&state.db, import.id, REJECTS_SHOWN).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ImportView::new(&state, &name, import, Some(rejects))),
    ))
}
