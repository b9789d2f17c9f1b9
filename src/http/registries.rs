//! Registries: their state (dialer and up) and imports of their data (ops).

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiPath, ApiQuery, AsOps, NoQuery, ScopedDialer};
use super::middleware::WriteProgress;
use super::AppState;
use crate::domain::{Encoding, Format, HashScheme, ImportPhase, ImportStatus, Mode};
use crate::error::{ApiError, ErrorBody};
use crate::import::ImportRequest;
use crate::index::freshness::fresh_until;
use crate::jobs;
use crate::store::imports::{self, Import, Reject};
use crate::store::registries::{self, Registry};

/// Most rejected rows returned with one import (all are counted).
const REJECTS_SHOWN: i64 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, imports) = routes!(list_imports, start_import);
    // Uploads are streamed and bounded by TARCZA_MAX_UPLOAD_BYTES instead.
    let imports = imports.layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes((schemas, paths, imports))
        .routes(routes!(one_import))
        .routes(routes!(sync_now))
}

/// A registry: its data and how current it is.
#[derive(Serialize, ToSchema)]
struct RegistryView {
    #[schema(example = "robinson")]
    name: String,
    /// `empty` until the first import succeeds, then `loaded`.
    #[schema(example = "loaded")]
    status: &'static str,
    entries: i64,
    snapshot_version: i64,
    generation: Option<i64>,
    loaded_at: Option<DateTime<Utc>>,
    source_time: Option<DateTime<Utc>>,
    /// When the data stops counting as current: source time (else import time) plus
    /// `max_age`. Null without data or without a maximum age.
    fresh_until: Option<DateTime<Utc>>,
    /// Whether `fresh_until` has passed (`/check` then follows `stale_policy`).
    stale: bool,
    /// Set for a hashed registry: how numbers are spelled before hashing.
    hash_scheme: Option<String>,
    /// The configured source (URL without credentials, or path); null if none.
    source: Option<String>,
    /// Seconds between scheduled syncs (when a source is configured).
    sync_interval_seconds: Option<u64>,
    /// How old the data may be before it is stale; null: no limit.
    max_age_seconds: Option<u64>,
    /// `block` (stale data: `/v1/check` answers 503) or `warn`.
    #[schema(example = "block")]
    stale_policy: &'static str,
    /// Whether a valid consent of the call's client exempts a number from this
    /// registry's block (`TARCZA_REGISTRY_<NAME>_CONSENT_EXEMPTS`).
    consent_exempts: bool,
    last_import: Option<ImportView>,
    /// The import running now (on any replica), with how far it has got; null if none.
    running_import: Option<ImportView>,
}

async fn view(state: &AppState, r: Registry) -> Result<RegistryView, ApiError> {
    let last_import = match r.last_import_id {
        Some(id) => imports::get(&state.db, r.id, id)
            .await?
            .map(|i| ImportView::new(state, &r.name, i, None)),
        None => None,
    };
    let running_import = imports::running(&state.db, r.id)
        .await?
        .map(|i| ImportView::new(state, &r.name, i, None));
    let config = state.settings.registry(&r.name);
    let until = r
        .generation
        .and(fresh_until(r.source_time, r.loaded_at, config.max_age));
    Ok(RegistryView {
        status: if r.generation.is_some() {
            "loaded"
        } else {
            "empty"
        },
        entries: r.entries,
        snapshot_version: r.version,
        generation: r.generation,
        loaded_at: r.loaded_at,
        source_time: r.source_time,
        fresh_until: until,
        stale: until.is_some_and(|t| t <= Utc::now()),
        hash_scheme: r.hash_scheme,
        source: config.source.as_ref().map(|s| s.describe()),
        sync_interval_seconds: config.source.as_ref().map(|_| config.interval.as_secs()),
        max_age_seconds: config.max_age.map(|a| a.as_secs()),
        stale_policy: config.stale_policy.as_str(),
        consent_exempts: config.consent_exempts,
        last_import,
        running_import,
        name: r.name,
    })
}

/// Every registry.
#[derive(Serialize, ToSchema)]
struct RegistryList {
    registries: Vec<RegistryView>,
}

/// Every registry, with its data and freshness.
#[utoipa::path(
    get,
    operation_id = "list_registries",
    path = "/v1/registries",
    tag = "registries",
    extensions(("x-required-role" = json!("dialer")), ("x-client-bound-keys" = json!("own client"))),
    responses((status = 200, description = "The registries", body = RegistryList))
)]
async fn list(
    _caller: ScopedDialer,
    State(state): State<AppState>,
    _: NoQuery,
) -> Result<Json<RegistryList>, ApiError> {
    let mut registries = Vec::new();
    for r in registries::list(&state.db).await? {
        registries.push(view(&state, r).await?);
    }
    Ok(Json(RegistryList { registries }))
}

async fn registry(state: &AppState, name: &str) -> Result<Registry, ApiError> {
    registries::by_name(&state.db, name).await?.ok_or_else(|| {
        ApiError::client(
            StatusCode::NOT_FOUND,
            "unknown_registry",
            format!("no registry named {name:?}"),
        )
    })
}

/// One registry: its data, how current it is, its last and its running import.
#[utoipa::path(
    get,
    operation_id = "get_registry",
    path = "/v1/registries/{name}",
    tag = "registries",
    params(("name" = String, Path, description = "The registry's name", example = "robinson")),
    extensions(("x-required-role" = json!("dialer")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The registry", body = RegistryView),
        (status = 404, description = "No registry of that name (`unknown_registry`)", body = ErrorBody),
    )
)]
async fn one(
    _caller: ScopedDialer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    _: NoQuery,
) -> Result<Json<RegistryView>, ApiError> {
    let r = registry(&state, &name).await?;
    Ok(Json(view(&state, r).await?))
}

/// An import as the API shows it: its record, the registry's name, how long it took,
/// while it runs how far it has got, and (for one import) its rejected rows.
#[derive(Serialize, ToSchema)]
struct ImportView {
    registry: String,
    #[serde(flatten)]
    import: Import,
    duration_ms: Option<i64>,
    /// Present while the import runs (`status` `running`).
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<ProgressView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejects: Option<Vec<Reject>>,
}

/// How far a running import has got. The counts of the record (`bytes`, `rows_total`,
/// `rows_accepted`, `rows_rejected`) say the same.
#[derive(Serialize, ToSchema)]
struct ProgressView {
    /// `reading` the file, `comparing` it with the live data, or `writing` the new data.
    phase: ImportPhase,
    /// Bytes of the file received so far, as sent.
    bytes_read: i64,
    /// The file's size as sent, when known before it was read (Content-Length, the
    /// file's size); null otherwise.
    bytes_expected: Option<i64>,
    /// `bytes_read / bytes_expected` (0 to 1), when the size is known.
    fraction: Option<f64>,
    /// Data rows read so far, and of them accepted and rejected.
    rows_read: i64,
    rows_accepted: i64,
    rows_rejected: i64,
    /// When these figures were taken: now for an import this process runs, else when
    /// the replica running it last wrote them (about once a second).
    as_of: DateTime<Utc>,
}

impl ImportView {
    fn new(
        state: &AppState,
        registry: &str,
        mut import: Import,
        rejects: Option<Vec<Reject>>,
    ) -> ImportView {
        let progress =
            (import.outcome.status == ImportStatus::Running).then(|| progress(state, &mut import));
        ImportView {
            registry: registry.to_string(),
            duration_ms: import
                .finished_at
                .map(|f| (f - import.created_at).num_milliseconds()),
            progress,
            import,
            rejects,
        }
    }
}

/// How far running `import` has got: from this process when it runs it here (its counts
/// in the record are brought up to the same figures), else as its row says.
fn progress(state: &AppState, import: &mut Import) -> ProgressView {
    let (expected, as_of) = match state.imports.get(import.id) {
        Some(here) => {
            let now = here.progress.now();
            let o = &mut import.outcome;
            (o.bytes, o.rows_total, o.rows_accepted, o.rows_rejected) = (
                now.bytes,
                now.rows_total,
                now.rows_accepted,
                now.rows_rejected,
            );
            import.phase = Some(now.phase.to_string());
            let expected = here.progress.expected().map(|b| b as i64);
            (expected.or(import.bytes_expected), Utc::now())
        }
        None => (
            import.bytes_expected,
            import.progress_at.unwrap_or(import.created_at),
        ),
    };
    let o = &import.outcome;
    ProgressView {
        phase: import
            .phase
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(ImportPhase::Reading),
        bytes_read: o.bytes,
        bytes_expected: expected,
        fraction: expected
            .filter(|e| *e > 0)
            .map(|e| (o.bytes as f64 / e as f64).clamp(0.0, 1.0)),
        rows_read: o.rows_total,
        rows_accepted: o.rows_accepted,
        rows_rejected: o.rows_rejected,
        as_of,
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
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
async fn start_import(
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListImportsQuery {
    /// How many imports, newest first: 1 to 1000 (other values are brought into that
    /// range). Default 50.
    limit: Option<i64>,
}

/// A registry's imports, newest first.
#[derive(Serialize, ToSchema)]
struct ImportList {
    imports: Vec<ImportView>,
}

/// A registry's imports, newest first (a running one with its progress).
#[utoipa::path(
    get,
    operation_id = "list_imports",
    path = "/v1/registries/{name}/imports",
    tag = "registries",
    params(("name" = String, Path, description = "The registry's name", example = "robinson"), ListImportsQuery),
    extensions(("x-required-role" = json!("ops"))),
    responses(
        (status = 200, description = "The imports, without their rejected rows", body = ImportList),
        (status = 404, description = "No registry of that name (`unknown_registry`)", body = ErrorBody),
    )
)]
async fn list_imports(
    _caller: AsOps,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListImportsQuery>,
) -> Result<Json<ImportList>, ApiError> {
    let registry = registry(&state, &name).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let list: Vec<ImportView> = imports::list(&state.db, registry.id, limit)
        .await?
        .into_iter()
        .map(|i| ImportView::new(&state, &name, i, None))
        .collect();
    Ok(Json(ImportList { imports: list }))
}

/// One import: its record, its progress while it runs, its first 1000 rejected rows.
#[utoipa::path(
    get,
    operation_id = "get_import",
    path = "/v1/registries/{name}/imports/{id}",
    tag = "registries",
    params(
        ("name" = String, Path, description = "The registry's name", example = "robinson"),
        ("id" = i64, Path, description = "The import's id"),
    ),
    extensions(("x-required-role" = json!("ops"))),
    responses(
        (status = 200, description = "The import", body = ImportView),
        (status = 404, description = "No registry of that name (`unknown_registry`), or no such import of it (`not_found`)", body = ErrorBody),
    )
)]
async fn one_import(
    _caller: AsOps,
    State(state): State<AppState>,
    ApiPath((name, id)): ApiPath<(String, i64)>,
    _: NoQuery,
) -> Result<Json<ImportView>, ApiError> {
    let registry = registry(&state, &name).await?;
    let import = imports::get(&state.db, registry.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("registry {name:?} has no import {id}")))?;
    let rejects = imports::rejects(&state.db, id, REJECTS_SHOWN).await?;
    Ok(Json(ImportView::new(&state, &name, import, Some(rejects))))
}

/// A sync that goes on: its running import, or that it is pending.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum StillRunning {
    Import(Box<ImportView>),
    Pending(SyncPending),
}

/// A sync that has started but has no record yet.
#[derive(Serialize, ToSchema)]
struct SyncPending {
    registry: String,
    /// `pending`.
    #[schema(example = "pending")]
    status: &'static str,
    message: &'static str,
}

/// Sync a registry from its configured source now.
///
/// Answers with the finished import, or, when the sync outlasts what the caller may wait
/// (just under TARCZA_REQUEST_TIMEOUT), `202` with the running import and `Location` to
/// follow it: the sync carries on either way, so the answer never says nothing happened.
#[utoipa::path(
    post,
    operation_id = "sync_registry",
    path = "/v1/registries/{name}/sync",
    tag = "registries",
    params(("name" = String, Path, description = "The registry's name", example = "robinson")),
    extensions(("x-required-role" = json!("ops"))),
    responses(
        (status = 200, description = "The sync has ended: its import's record", body = ImportView),
        (status = 202, description = "The sync goes on: the running import (or, before it has a record, `pending`); `Location` says where to follow it", body = StillRunning,
            headers(("Location" = String, description = "Where to follow the sync"))),
        (status = 404, description = "No registry of that name (`unknown_registry`)", body = ErrorBody),
        (status = 409, description = "The registry has no source configured (`no_source`), or an import of it is running (`import_in_progress`)", body = ErrorBody),
    )
)]
async fn sync_now(
    caller: AsOps,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Response, ApiError> {
    registry(&state, &name).await?;
    // The sync runs on if this request times out: its outcome is not "nothing changed".
    progress.writing();
    // Its own task: a client that hangs up must not cancel the import half-way.
    let (started_tx, started_rx) = oneshot::channel();
    let ctx = state.jobs();
    let task_name = name.clone();
    let actor = Some(caller.0.id);
    let mut task = tokio::spawn(async move {
        jobs::sync::run_once_reporting(&ctx, &task_name, actor, Some(started_tx)).await
    });
    let limit = state.settings.request_timeout;
    let answer_within = limit.saturating_sub(Duration::from_secs(1)).max(limit / 2);
    let import = match tokio::time::timeout(answer_within, &mut task).await {
        Ok(done) => {
            done.map_err(|e| ApiError::Internal(anyhow::anyhow!("sync task failed: {e}")))??
        }
        Err(_) => return Ok(still_running(&state, &name, started_rx)),
    };
    let rejects = imports::rejects(&state.db, import.id, REJECTS_SHOWN).await?;
    Ok(Json(ImportView::new(&state, &name, import, Some(rejects))).into_response())
}

/// `202`: the sync goes on; where to follow it.
fn still_running(state: &AppState, name: &str, mut started: oneshot::Receiver<Import>) -> Response {
    match started.try_recv().ok() {
        Some(import) => {
            let location = format!("/v1/registries/{name}/imports/{}", import.id);
            (
                StatusCode::ACCEPTED,
                [(header::LOCATION, location)],
                Json(StillRunning::Import(Box::new(ImportView::new(
                    state, name, import, None,
                )))),
            )
                .into_response()
        }
        // Still waiting for the registry's lock or the database: no record yet.
        None => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/v1/registries/{name}/imports"))],
            Json(StillRunning::Pending(SyncPending {
                registry: name.to_string(),
                status: "pending",
                message: "the sync has started and is recorded under this registry's imports",
            })),
        )
            .into_response(),
    }
}
