//! A sync of a registry from its configured source, on request: the finished import, or
//! `202` with where to follow it when it outlasts what the caller may wait.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::sync::oneshot;
use utoipa::ToSchema;

use super::imports::{ImportView, REJECTS_SHOWN};
use super::registry;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, AsOps, NoQuery};
use crate::http::middleware::WriteProgress;
use crate::http::AppState;
use crate::jobs;
use crate::store::imports::{self, Import};

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
pub(super) async fn sync_now(
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
