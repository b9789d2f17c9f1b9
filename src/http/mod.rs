//! HTTP API v1: one file per resource, each with its own `router()` of documented routes
//! (`openapi` says how to document one); the middleware every request passes
//! (`middleware`), and serving it on a socket (`serve`, `connection`).
//!
//! The only layer that knows HTTP besides the web console (`console/`, which sits above
//! it as a client of this API and is never used from here): axum and hyper types,
//! [`AppState`] and `ApiError` (with `error.rs`) stay here. A handler turns the request
//! into domain types, asks the index, the store, an import or a job, and turns the answer
//! (or the error, through its `From` conversion) into a response. No SQL here: that is
//! `store`.

mod audit;
mod changes;
mod check;
mod connection;
mod consent_imports;
mod consents;
mod dnc;
mod dnc_drift;
mod dnc_imports;
mod dnc_list;
pub mod extract;
mod health;
mod history;
mod keys;
mod metrics;
mod middleware;
pub mod openapi;
mod policies;
mod query;
mod receipts;
mod registries;
mod serve;
mod state;
mod stats;
mod time;
mod webhooks;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Settings;
use crate::error::ApiError;

pub use check::MAX_BATCH;
pub use middleware::{observed, WriteProgress, JSON_BODY_LIMIT};
pub use serve::{serve, serve_with, ServeOptions};
pub use state::AppState;

/// Every documented route, each with its operation in the OpenAPI document (see
/// `openapi` for how to document one). `/metrics` is among them unless it has an address
/// of its own (TARCZA_METRICS_BIND: [`metrics_router`]). The web console's pages are not
/// (they are HTML for people, routed in `startup`).
fn documented(with_metrics: bool) -> OpenApiRouter<AppState> {
    let mut api = OpenApiRouter::with_openapi(openapi::base())
        .merge(health::router())
        .merge(audit::router())
        .merge(changes::router())
        .merge(check::router())
        .merge(dnc::router())
        .merge(dnc_drift::router())
        .merge(dnc_imports::router())
        .merge(dnc_list::router())
        .merge(history::router())
        .merge(keys::router())
        .merge(receipts::router())
        .merge(registries::router())
        .merge(consents::router())
        .merge(consent_imports::router())
        .merge(policies::router())
        .merge(stats::router())
        .merge(webhooks::router())
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::docs));
    if with_metrics {
        api = api.routes(routes!(metrics::metrics));
    }
    api
}

/// The OpenAPI 3.1 document of the API (with or without `/metrics`).
pub fn document(with_metrics: bool) -> utoipa::openapi::OpenApi {
    let mut doc = documented(with_metrics).into_openapi();
    openapi::Conventions::apply(&mut doc);
    dnc::document_add_request(&mut doc);
    keys::document_create_request(&mut doc);
    doc
}

/// The committed `openapi.json`: the document of the API as `tarcza openapi` prints it.
pub fn openapi_json() -> String {
    openapi::to_json(&document(true))
}

/// The whole HTTP API. Pure: binds nothing and reads no environment.
pub fn router(state: AppState) -> Router {
    observed(api(state))
}

/// The API within its limits (body limit, request timeout) but without the request id
/// and trace span, for a client in-process (the console) whose own request has them: wrap
/// the whole in [`observed`].
pub fn api(state: AppState) -> Router {
    let (routes, _) = documented(state.settings.metrics_with_api()).split_for_parts();
    let routes = routes
        // The viewer's own files (static, not operations of the API).
        .route("/docs/", get(openapi::docs_slash))
        .route("/docs/{file}", get(openapi::docs_file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    middleware::limited(routes, state)
}

/// `/metrics` alone, for its own address (TARCZA_METRICS_BIND).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .fallback(not_found)
        .with_state(state)
}

/// A caveat on the answer to a committed write.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notice {
    /// `not_yet_visible`: stored, but this process's `/v1/check` may not show it yet.
    #[schema(example = "not_yet_visible")]
    pub code: &'static str,
    pub message: String,
}

/// The warnings of an answer to a committed write: `not_yet_visible` when this process's
/// `/check` does not show the change yet (its snapshot refresh outlasted the request's
/// time; see `Index::refresh_after_write`), else none.
fn written(visible: bool, settings: &Settings) -> Vec<Notice> {
    if visible {
        return Vec::new();
    }
    vec![Notice {
        code: "not_yet_visible",
        message: format!(
            "stored; this process is still refreshing its data, so its /v1/check may not \
             show the change yet. Within TARCZA_MAX_SNAPSHOT_LAG ({:?}) it answers with it, \
             or 503 stale_snapshot",
            settings.max_snapshot_lag
        ),
    }]
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
