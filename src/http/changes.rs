//! `GET /v1/changes` (dialer and up): every change to the do-not-call list and every
//! registry import going live, in commit order, after an opaque cursor; a long poll when
//! nothing is new. A client that stores the `next` cursor can stop, restart and miss
//! nothing (within the retention, `TARCZA_CHANGES_RETENTION`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{ApiQuery, AsDialer};
use super::AppState;
use crate::config::parse_duration;
use crate::domain::Cursor;
use crate::error::ApiError;
use crate::store::changes::{self, ChangeRow, ChangeView};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// Longest a long poll waits (`wait` above it is taken as this). The request timeout
/// of this route is `TARCZA_REQUEST_TIMEOUT` plus this.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// A waiting poll looks again this often even if this process's snapshot has not moved
/// (a change it has not heard of yet).
const RECHECK: Duration = Duration::from_secs(1);

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/changes", get(list))
}

#[derive(Deserialize)]
struct ChangesQuery {
    /// A cursor (`next` of an earlier answer), or `latest` for only what comes next.
    after: Option<String>,
    limit: Option<i64>,
    /// How long to wait when nothing is new: `30s`, `500ms`, or seconds.
    wait: Option<String>,
}

#[derive(Serialize)]
struct ChangesView<'a> {
    changes: Vec<ChangeView<'a>>,
    /// Where to read on from: the last change's cursor, or `after` when none came.
    next: Cursor,
    /// Whether more changes are there already (ask again at once).
    more: bool,
}

async fn list(
    _caller: AsDialer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::unprocessable(
                "invalid_parameter",
                format!("limit={n} is not between 1 and {MAX_LIMIT}"),
            ))
        }
    };
    let wait = match q.wait.as_deref() {
        None => Duration::ZERO,
        Some(w) => parse_duration(w)
            .map_err(|e| ApiError::unprocessable("invalid_parameter", format!("wait: {e}")))?
            .min(MAX_WAIT),
    };
    let mut conn = state.db.acquire().await?;
    let after = match q.after.as_deref() {
        None => Cursor::START,
        Some("latest") => changes::head(&mut conn).await?,
        Some(c) => c
            .parse::<Cursor>()
            .map_err(|e| ApiError::unprocessable("invalid_cursor", e))?,
    };
    let pruned = changes::pruned_through(&mut conn).await?;
    if after != Cursor::START && after < pruned {
        return Err(ApiError::client(
            StatusCode::GONE,
            "cursor_expired",
            "changes up to this cursor's were removed after TARCZA_CHANGES_RETENTION, so some \
             may have been missed; compare the lists again (POST /v1/dnc/drift) and follow the \
             feed from after=latest",
        ));
    }
    // Listen before looking: a change that lands after the look wakes the wait.
    let mut versions = state.index.versions();
    versions.borrow_and_update();
    let deadline = tokio::time::Instant::now() + wait;
    let mut rows = changes::after(&mut conn, after, limit + 1, None).await?;
    drop(conn);
    while rows.is_empty() && tokio::time::Instant::now() < deadline {
        let recheck = (tokio::time::Instant::now() + RECHECK).min(deadline);
        tokio::select! {
            _ = versions.changed() => {}
            _ = tokio::time::sleep_until(recheck) => {}
        }
        versions.borrow_and_update();
        let mut conn = state.db.acquire().await?;
        rows = changes::after(&mut conn, after, limit + 1, None).await?;
    }
    Ok(Json(answer(&rows, after, limit)?))
}

fn answer(rows: &[ChangeRow], after: Cursor, limit: i64) -> Result<serde_json::Value, ApiError> {
    let more = rows.len() as i64 > limit;
    let shown = &rows[..rows.len().min(limit as usize)];
    let view = ChangesView {
        next: shown.last().map_or(after, ChangeRow::cursor),
        changes: shown.iter().map(ChangeRow::view).collect(),
        more,
    };
    Ok(serde_json::to_value(view).map_err(anyhow::Error::from)?)
}
