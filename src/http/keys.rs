//! API keys (admin): create (the secret is shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::extract::{ApiJson, ApiPath, AsAdmin, NoQuery};
use super::middleware::WriteProgress;
use super::written;
use super::AppState;
use crate::domain::Role;
use crate::error::ApiError;
use crate::store::keys::{self, ApiKey, Revoked};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", get(list).post(create))
        .route("/v1/keys/{id}", delete(revoke))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    role: String,
}

#[derive(Serialize)]
struct KeyView {
    id: i64,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<i64>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id,
            name: k.name,
            role: k.role,
            created_at: k.created_at,
            created_by: k.created_by,
            revoked_at: k.revoked_at,
            revoked_by: k.revoked_by,
        }
    }
}

async fn create(
    caller: AsAdmin,
    State(state): State<AppState>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "name must be 1 to 200 bytes of printable text",
        ));
    }
    let role: Role = req
        .role
        .parse()
        .map_err(|e: String| ApiError::unprocessable("invalid_role", e))?;
    progress.writing();
    let (key, secret) = keys::create(&state.db, Some(caller.0.id), name, role).await?;
    progress.committed();
    let visible = state
        .index
        .refresh_after_write(&state.db, progress.answer_by())
        .await;
    tracing::info!(key_id = key.id, role = %role, "api key created");
    let mut body = written(KeyView::from(key), visible, &state.settings)?;
    body["key"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list(
    _caller: AsAdmin,
    State(state): State<AppState>,
    _: NoQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let keys: Vec<KeyView> = keys::list(&state.db)
        .await?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

async fn revoke(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Json<serde_json::Value>, ApiError> {
    progress.writing();
    match keys::revoke(&state.db, caller.0.id, id).await? {
        Revoked::Done(key) => {
            progress.committed();
            let visible = state
                .index
                .refresh_after_write(&state.db, progress.answer_by())
                .await;
            tracing::info!(key_id = id, "api key revoked");
            Ok(Json(written(KeyView::from(key), visible, &state.settings)?))
        }
        Revoked::NotFound => Err(ApiError::not_found(format!("no API key {id}"))),
        Revoked::AlreadyRevoked(_) => Err(ApiError::conflict(
            "already_revoked",
            format!("API key {id} is already revoked"),
        )),
    }
}
