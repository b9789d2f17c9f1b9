//! An import as the API shows it (its record, how long it took, how far a running one has
//! got, its first rejected rows), a registry's imports and one import.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::registry;
use crate::domain::{ImportPhase, ImportStatus};
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, ApiQuery, AsOps, NoQuery};
use crate::http::AppState;
use crate::store::imports::{self, Import, Reject};

/// Most rejected rows returned with one import (all are counted).
pub(super) const REJECTS_SHOWN: i64 = 1000;

/// An import as the API shows it: its record, the registry's name, how long it took,
/// while it runs how far it has got, and (for one import) its rejected rows.
#[derive(Serialize, ToSchema)]
pub(super) struct ImportView {
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
    pub(super) fn new(
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
pub(super) struct ListImportsQuery {
    /// How many imports, newest first: 1 to 1000 (other values are brought into that
    /// range). Default 50.
    limit: Option<i64>,
}

/// A registry's imports, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct ImportList {
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
pub(super) async fn list_imports(
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
pub(super) async fn one_import(
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
