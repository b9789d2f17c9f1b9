//! Liveness and readiness, for load balancers and orchestrators. No key needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::NoQuery;
use super::AppState;
use crate::index::freshness::stale_snapshot_message;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// The process runs.
#[derive(Serialize, ToSchema)]
struct Alive {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Whether the process runs.
#[utoipa::path(
    get,
    operation_id = "healthz",
    path = "/healthz",
    tag = "health",
    security(()),
    responses((status = 200, description = "The process runs: `{\"status\": \"ok\"}`", body = Alive))
)]
async fn healthz(_: NoQuery) -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Whether the last contact with the database worked.
#[derive(Serialize, ToSchema)]
struct DatabaseState {
    ok: bool,
    /// The error of the last contact, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A registry as this process holds it.
#[derive(Serialize, ToSchema)]
struct LoadedRegistry {
    name: String,
    entries: usize,
    version: i64,
    /// Memory its members take, in bytes.
    index_bytes: usize,
}

/// The consents this process holds.
#[derive(Serialize, ToSchema)]
struct LoadedConsents {
    entries: usize,
    /// Memory they take, in bytes.
    index_bytes: usize,
}

/// Whether `/v1/check` can answer, and from what.
#[derive(Serialize, ToSchema)]
struct Readiness {
    /// `ready`; `degraded` (the database cannot be reached: checks are answered from
    /// memory); `not_ready` (no data loaded yet) or `stale_snapshot` (503).
    #[schema(example = "ready")]
    status: &'static str,
    /// Why it is not ready (with `not_ready` and `stale_snapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<DatabaseState>,
    /// Time since the snapshot was last confirmed current against the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_lag_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_loaded_at: Option<DateTime<Utc>>,
    /// Numbers with at least one active do-not-call entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    dnc_numbers: Option<usize>,
    /// Prefixes with at least one active do-not-call entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    dnc_prefixes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consents: Option<LoadedConsents>,
    /// Client and campaign policies held.
    #[serde(skip_serializing_if = "Option::is_none")]
    policies: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registries: Option<Vec<LoadedRegistry>>,
}

/// Whether `/v1/check` can answer.
///
/// 200 while `/v1/check` can answer (even from memory with the database down, reported
/// as `degraded`); 503 before the first snapshot is loaded, and while the snapshot is
/// stale (see `freshness::snapshot_gate`).
#[utoipa::path(
    get,
    operation_id = "readyz",
    path = "/readyz",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "`ready`, or `degraded` when the database cannot be reached (checks are answered from memory)", body = Readiness),
        (status = 503, description = "`not_ready` (no data loaded yet) or `stale_snapshot`, with a `reason`", body = Readiness),
    )
)]
async fn readyz(State(state): State<AppState>, _: NoQuery) -> (StatusCode, Json<Readiness>) {
    let Some(snapshot) = state.index.current() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "not_ready",
                reason: Some("the data has not been loaded yet".into()),
                database: None,
                snapshot_lag_ms: None,
                snapshot_version: None,
                snapshot_loaded_at: None,
                dnc_numbers: None,
                dnc_prefixes: None,
                consents: None,
                policies: None,
                registries: None,
            }),
        );
    };
    let registries = snapshot
        .registries()
        .iter()
        .map(|r| LoadedRegistry {
            name: r.name.to_string(),
            entries: r.members.len(),
            version: r.version,
            index_bytes: r.members.heap_bytes(),
        })
        .collect();
    let problem = state.index.db_problem();
    let stale = state.index.stale_for(state.settings.max_snapshot_lag);
    let (code, status) = match stale {
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "stale_snapshot"),
        None if problem.is_some() => (StatusCode::OK, "degraded"),
        None => (StatusCode::OK, "ready"),
    };
    let body = Readiness {
        status,
        reason: stale.map(|lag| stale_snapshot_message(lag, &state.settings)),
        database: Some(DatabaseState {
            ok: problem.is_none(),
            error: problem,
        }),
        snapshot_lag_ms: state.index.lag().map(|l| l.as_millis() as u64),
        snapshot_version: Some(snapshot.version),
        snapshot_loaded_at: Some(snapshot.loaded_at),
        dnc_numbers: Some(snapshot.dnc_numbers()),
        dnc_prefixes: Some(snapshot.dnc_prefixes()),
        consents: Some(LoadedConsents {
            entries: snapshot.consents().len(),
            index_bytes: snapshot.consents().heap_bytes(),
        }),
        policies: Some(snapshot.policies().len()),
        registries: Some(registries),
    };
    (code, Json(body))
}
