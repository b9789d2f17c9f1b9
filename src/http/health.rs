//! Liveness and readiness, for load balancers and orchestrators. No key needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::extract::NoQuery;
use super::AppState;
use crate::index::freshness::stale_snapshot_message;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz(_: NoQuery) -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 while `/check` can answer (even from memory with the database down, which is
/// reported as `degraded`); 503 before the first snapshot is loaded, and while the
/// snapshot is stale (see `freshness::snapshot_gate`).
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
    let database = match state.index.db_problem() {
        None => json!({ "ok": true }),
        Some(problem) => json!({ "ok": false, "error": problem }),
    };
    let stale = state.index.stale_for(state.settings.max_snapshot_lag);
    let (code, status) = match stale {
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "stale_snapshot"),
        None if database["ok"] == false => (StatusCode::OK, "degraded"),
        None => (StatusCode::OK, "ready"),
    };
    let mut body = json!({
        "status": status,
        "database": database,
        // Time since the snapshot was last confirmed current against the database.
        "snapshot_lag_ms": state.index.lag().map(|l| l.as_millis() as u64),
        "snapshot_version": snapshot.version,
        "snapshot_loaded_at": snapshot.loaded_at,
        "dnc_numbers": snapshot.dnc_numbers(),
        "dnc_prefixes": snapshot.dnc_prefixes(),
        "consents": {
            "entries": snapshot.consents().len(),
            "index_bytes": snapshot.consents().heap_bytes(),
        },
        "policies": snapshot.policies().len(),
        "registries": registries,
    });
    if let Some(lag) = stale {
        body["reason"] = json!(stale_snapshot_message(lag, &state.settings));
    }
    (code, Json(body))
}
