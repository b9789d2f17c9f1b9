//! HTTP API v1: one file per resource, each with its own `router()`; the middleware
//! every request passes (`middleware`), and serving it on a socket (`serve`,
//! `connection`).
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
mod consents;
mod dnc;
mod dnc_drift;
mod dnc_imports;
mod dnc_list;
pub mod extract;
mod health;
mod history;
mod keys;
mod middleware;
mod policies;
mod query;
mod receipts;
mod registries;
mod serve;
mod state;
mod stats;

use axum::http::StatusCode;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::error::ApiError;

pub use check::MAX_BATCH;
pub use middleware::{observed, WriteProgress, JSON_BODY_LIMIT};
pub use serve::{serve, serve_with, ServeOptions};
pub use state::AppState;

/// The whole HTTP API. Pure: binds nothing and reads no environment.
pub fn router(state: AppState) -> Router {
    observed(api(state))
}

/// The API within its limits (body limit, request timeout) but without the request id
/// and trace span, for a client in-process (the console) whose own request has them: wrap
/// the whole in [`observed`].
pub fn api(state: AppState) -> Router {
    let routes = Router::new()
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
        .merge(policies::router())
        .merge(stats::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    middleware::limited(routes, state)
}

/// The answer to a committed write: `body`, with a `not_yet_visible` warning when this
/// process's `/check` does not show the change yet (its snapshot refresh outlasted the
/// request's time; see `Index::refresh_after_write`).
fn written(body: impl Serialize, visible: bool, settings: &Settings) -> Result<Value, ApiError> {
    let mut body = serde_json::to_value(body).map_err(anyhow::Error::from)?;
    if !visible {
        body["warnings"] = json!([{
            "code": "not_yet_visible",
            "message": format!(
                "stored; this process is still refreshing its data, so its /v1/check may not \
                 show the change yet. Within TARCZA_MAX_SNAPSHOT_LAG ({:?}) it answers with \
                 it, or 503 stale_snapshot",
                settings.max_snapshot_lag
            ),
        }]);
    }
    Ok(body)
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
