//! HTTP API v1: one file per resource, each with its own `router()`.

mod audit;
mod check;
mod dnc;
pub mod extract;
pub mod freshness;
mod health;
mod keys;
mod query;
mod registries;

use axum::http::StatusCode;
use axum::Router;

use crate::app::AppState;
use crate::error::ApiError;

pub use check::MAX_BATCH;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(audit::router())
        .merge(check::router())
        .merge(dnc::router())
        .merge(keys::router())
        .merge(registries::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
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
