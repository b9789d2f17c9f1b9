//! Registries: their state (dialer and up) and imports of their data (ops).

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;

use super::extract::{ApiPath, ApiQuery, AsDialer, AsOps, NoQuery};
use super::middleware::WriteProgress;
use super::AppState;
use crate::domain::{Encoding, Format, HashScheme, Mode};
use crate::error::ApiError;
use crate::import::{self, ImportRequest};
use crate::index::freshness::fresh_until;
use crate::jobs;
use crate::store::imports::{self, Import, Reject};
use crate::store::registries::{self, Registry};

/// Most rejected rows returned with one import (all are counted).
const REJECTS_SHOWN: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/registries", get(list))
        .route("/v1/registries/{name}", get(one))
        .route(
            "/v1/registries/{name}/imports",
            get(list_imports)
                .post(start_import)
                // Uploads are streamed and bounded by TARCZA_MAX_UPLOAD_BYTES instead.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/registries/{name}/imports/{id}", get(one_import))
        .route("/v1/registries/{name}/sync", post(sync_now))
}

#[derive(Serialize)]
struct RegistryView {
    name: String,
    /// `empty` until the first import succeeds, then `loaded`.
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
    max_age_seconds: Option<u64>,
    stale_policy: &'static str,
    /// Whether a valid consent of the call's client exempts a number from this
    /// registry's block (`TARCZA_REGISTRY_<NAME>_CONSENT_EXEMPTS`).
    consent_exempts: bool,
    last_import: Option<ImportView>,
}

async fn view(state: &AppState, r: Registry) -> Result<RegistryView, ApiError> {
    let last_import = match r.last_import_id {
        Some(id) => imports::get(&state.db, r.id, id)
            .await?
            .map(|i| ImportView::new(&r.name, i, None)),
        None => None,
    };
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
        name: r.name,
    })
}

async fn list(
    _caller: AsDialer,
    State(state): State<AppState>,
    _: NoQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut out = Vec::new();
    for r in registries::list(&state.db).await? {
        out.push(view(&state, r).await?);
    }
    Ok(Json(json!({ "registries": out })))
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

async fn one(
    _caller: AsDialer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    _: NoQuery,
) -> Result<Json<RegistryView>, ApiError> {
    let r = registry(&state, &name).await?;
    Ok(Json(view(&state, r).await?))
}

/// An import as the API shows it: its record, the registry's name, how long it took,
/// and (for one import) its rejected rows.
#[derive(Serialize)]
struct ImportView {
    registry: String,
    #[serde(flatten)]
    import: Import,
    duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejects: Option<Vec<Reject>>,
}

impl ImportView {
    fn new(registry: &str, import: Import, rejects: Option<Vec<Reject>>) -> ImportView {
        ImportView {
            registry: registry.to_string(),
            duration_ms: import
                .finished_at
                .map(|f| (f - import.created_at).num_milliseconds()),
            import,
            rejects,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    mode: Option<String>,
    format: Option<String>,
    hash_scheme: Option<String>,
    encoding: Option<String>,
    sha256: Option<String>,
    expected_rows: Option<u64>,
    #[serde(default)]
    force: bool,
    max_shrink: Option<f64>,
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

async fn start_import(
    caller: AsOps,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Body,
) -> Result<(StatusCode, Json<ImportView>), ApiError> {
    let registry = registry(&state, &name).await?;
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
        .map(str::parse::<HashScheme>)
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
        expected_rows: q.expected_rows,
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
    };
    let body = body.into_data_stream().map_err(io::Error::other);
    let options = import::Options::of(&state.settings);
    // Its own task: a client that hangs up must not cancel the import half-way.
    let run = import::run(state.db.clone(), state.index.clone(), options, req, body);
    let import = tokio::spawn(run)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("import task failed: {e}")))??;
    let rejects = imports::rejects(&state.db, import.id, REJECTS_SHOWN).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ImportView::new(&name, import, Some(rejects))),
    ))
}

#[derive(Deserialize)]
struct ListImportsQuery {
    limit: Option<i64>,
}

async fn list_imports(
    _caller: AsOps,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListImportsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let registry = registry(&state, &name).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let list: Vec<ImportView> = imports::list(&state.db, registry.id, limit)
        .await?
        .into_iter()
        .map(|i| ImportView::new(&name, i, None))
        .collect();
    Ok(Json(json!({ "imports": list })))
}

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
    Ok(Json(ImportView::new(&name, import, Some(rejects))))
}

/// `POST /v1/registries/{name}/sync`: fetch the configured source now (ops). Answers
/// with the finished import, or, when the sync outlasts what the caller may wait (just
/// under TARCZA_REQUEST_TIMEOUT), `202` with the running import and `Location` to
/// follow it: the sync carries on either way, so the answer never says nothing happened.
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
        Err(_) => return Ok(still_running(&name, started_rx)),
    };
    let rejects = imports::rejects(&state.db, import.id, REJECTS_SHOWN).await?;
    Ok(Json(ImportView::new(&name, import, Some(rejects))).into_response())
}

/// `202`: the sync goes on; where to follow it.
fn still_running(name: &str, mut started: oneshot::Receiver<Import>) -> Response {
    match started.try_recv().ok() {
        Some(import) => {
            let location = format!("/v1/registries/{name}/imports/{}", import.id);
            (
                StatusCode::ACCEPTED,
                [(header::LOCATION, location)],
                Json(ImportView::new(name, import, None)),
            )
                .into_response()
        }
        // Still waiting for the registry's lock or the database: no record yet.
        None => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/v1/registries/{name}/imports"))],
            Json(json!({
                "registry": name, "status": "pending",
                "message": "the sync has started and is recorded under this registry's imports",
            })),
        )
            .into_response(),
    }
}
