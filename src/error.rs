//! One error type for the HTTP API: client errors carry a safe message, server errors are
//! logged once (inside the request span) and answered with a generic body.
//!
//! With `http/`, the only place that knows `ApiError`: the errors of the layers below
//! (numbers, imports, syncs, freshness, the database) become HTTP answers here, each by
//! one `From` conversion.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{ConsentError, NumberError, PrefixError};
use crate::history::HistoryError;
use crate::import::ImportError;
use crate::index::freshness::Unfit;
use crate::jobs::sync::SyncError;
use crate::receipts::ReceiptError;

/// The body of every error answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable `snake_case` code (`invalid_number`, `not_ready`, …; README lists them).
    #[schema(example = "invalid_number")]
    pub code: String,
    /// What went wrong, for people: names the problem (and the input, but never a key).
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the message says how, and is safe to show.
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// We cannot answer right now (not loaded yet, stale data, database down).
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, message)
    }
    pub fn not_ready() -> Self {
        ApiError::Unavailable {
            code: "not_ready",
            message: "tarcza has not loaded its data yet; do not call".into(),
        }
    }
    pub fn database_unavailable() -> Self {
        ApiError::Unavailable {
            code: "database_unavailable",
            message: "the database is unavailable; the change was not made, try again later".into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Client { code, .. } | ApiError::Unavailable { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::database_unavailable()
        } else {
            ApiError::Internal(anyhow::Error::new(err))
        }
    }
}

/// A number that cannot be read: 422 `invalid_number`, naming the input.
impl From<NumberError> for ApiError {
    fn from(e: NumberError) -> Self {
        ApiError::unprocessable("invalid_number", e.message)
    }
}

/// A prefix that cannot be read: 422 `invalid_prefix`, naming the input.
impl From<PrefixError> for ApiError {
    fn from(e: PrefixError) -> Self {
        ApiError::unprocessable("invalid_prefix", e.message)
    }
}

/// A consent field that cannot be accepted: 422 with the field's code.
impl From<ConsentError> for ApiError {
    fn from(e: ConsentError) -> Self {
        ApiError::unprocessable(e.code, e.message)
    }
}

impl From<ImportError> for ApiError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::InProgress { .. } => {
                ApiError::conflict("import_in_progress", err.to_string())
            }
            ImportError::NotReady => ApiError::not_ready(),
            ImportError::Database(e) => e.into(),
            ImportError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(err: SyncError) -> Self {
        match err {
            SyncError::NoSource(_) => ApiError::conflict("no_source", err.to_string()),
            SyncError::UnknownRegistry(_) => ApiError::not_found(err.to_string()),
            SyncError::Import(e) => e.into(),
            SyncError::Database(e) => e.into(),
        }
    }
}

impl From<HistoryError> for ApiError {
    fn from(err: HistoryError) -> Self {
        match err {
            HistoryError::Future { .. } => ApiError::unprocessable("invalid_at", err.to_string()),
            HistoryError::Unavailable { .. } => {
                ApiError::unprocessable("history_unavailable", err.to_string())
            }
            HistoryError::Behind | HistoryError::NotReady => ApiError::Unavailable {
                code: "not_ready",
                message: err.to_string(),
            },
            HistoryError::Unrecorded => ApiError::Internal(anyhow::Error::new(err)),
            HistoryError::Database(e) => e.into(),
        }
    }
}

/// An answer that could not get its receipt is not given (500; the dialer does not call).
impl From<ReceiptError> for ApiError {
    fn from(err: ReceiptError) -> Self {
        ApiError::Internal(anyhow::Error::new(err))
    }
}

/// A snapshot that must not be answered from: 503, and the dialer does not call.
impl From<Unfit> for ApiError {
    fn from(unfit: Unfit) -> Self {
        let code = match unfit {
            Unfit::NotLoaded(_) => "not_ready",
            Unfit::StaleRegistry(_) => "stale_registry",
            Unfit::StaleSnapshot(_) => "stale_snapshot",
        };
        ApiError::Unavailable {
            code,
            message: unfit.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::Client {
                status,
                code,
                message,
            } => (status, code, message),
            ApiError::Unavailable { code, message } => {
                (StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error; it has been logged".to_string(),
                )
            }
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        };
        (status, Json(body)).into_response()
    }
}
