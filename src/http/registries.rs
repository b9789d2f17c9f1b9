//! Registries: their state (dialer and up) and imports of their data (ops). Here the
//! routes, a registry as the API shows it and the lookup by name; `registries/imports.rs`
//! an import as the API shows it, the imports' list and one import; `registries/upload.rs`
//! an import of an uploaded file; `registries/sync.rs` a sync from the configured source.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiPath, NoQuery, ScopedDialer};
use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::index::freshness::fresh_until;
use crate::store;
use crate::store::registries::{self, Registry};

mod imports;
mod sync;
mod upload;

use imports::ImportView;

pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, import_routes) = routes!(imports::list_imports, upload::start_import);
    // Uploads are streamed and bounded by TARCZA_MAX_UPLOAD_BYTES instead.
    let import_routes = import_routes.layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes((schemas, paths, import_routes))
        .routes(routes!(imports::one_import))
        .routes(routes!(sync::sync_now))
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
        Some(id) => store::imports::get(&state.db, r.id, id)
            .await?
            .map(|i| ImportView::new(state, &r.name, i, None)),
        None => None,
    };
    let running_import = store::imports::running(&state.db, r.id)
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
