//! Liveness and readiness, for load balancers and orchestrators. No key needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::extract::NoQuery;
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz(_: NoQuery) -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 while `/check` can answer (even from memory with the database down, which is
/// reported as `degraded`); 503 before the first snapshot is loaded.
async fn readyz(State(state): State<AppState>, _: NoQuery) -> (StatusCode, Json<Value>) {
    let Some(snapshot) = state.index.current() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reason": "the data has not been loaded yet" })),
        );
    };
    let registries: Vec<Value> = snapshot
        .registries()
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "entries": r.members.len(),
                "version": r.version,
                "index_bytes": r.members.heap_bytes(),
            })
        })
        .collect();
    let (status, database) = match state.index.db_problem() {
        None => ("ready", json!({ "ok": true })),
        Some(problem) => ("degraded", json!({ "ok": false, "error": problem })),
    };
    (
        StatusCode::OK,
        Json(json!({
            "status": status,
            "database": database,
            "snapshot_version": snapshot.version,
            "snapshot_loaded_at": snapshot.loaded_at,
            "dnc_numbers": snapshot.dnc_numbers(),
            "registries": registries,
        })),
    )
}
