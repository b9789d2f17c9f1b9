//! `GET /v1/changes` (dialer and up): every change to the do-not-call list and every
//! registry import going live, in commit order, after an opaque cursor; a long poll when
//! nothing is new. A client that stores the `next` cursor can stop, restart and miss
//! nothing (within the retention, `TARCZA_CHANGES_RETENTION`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, ScopedDialer};
use super::AppState;
use crate::config::parse_duration;
use crate::domain::Cursor;
use crate::error::{ApiError, ErrorBody};
use crate::store::changes::{self, ChangeRow, ChangeView};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// Longest a long poll waits (`wait` above it is taken as this). The request timeout
/// of this route is `TARCZA_REQUEST_TIMEOUT` plus this.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// A waiting poll looks again this often even if this process's snapshot has not moved
/// (a change it has not heard of yet).
const RECHECK: Duration = Duration::from_secs(1);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// A cursor (`next` of an earlier answer: 24 hex digits), or `latest` for only what
    /// comes next; none: from the oldest change kept (`422 invalid_cursor` otherwise).
    #[param(
        pattern = "^([0-7][0-9a-fA-F]{15}[0-7][0-9a-fA-F]{7}|latest)$",
        example = "latest"
    )]
    after: Option<String>,
    /// Changes per answer, 1 to 1000 (`422 invalid_parameter` otherwise).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// How long to wait when nothing is new: `30s`, `500ms`, or seconds; at most 60 s
    /// (longer is taken as 60 s; not a duration is `422 invalid_parameter`).
    #[param(pattern = "^[0-9]{1,9}(ms|s|m|h|d)?$", example = "1s")]
    wait: Option<String>,
}

/// A page of the change feed.
#[derive(Serialize, ToSchema)]
struct ChangesView<'a> {
    changes: Vec<ChangeView<'a>>,
    /// Where to read on from: the last change's cursor, or `after` when none came.
    #[schema(value_type = String, example = "00000000000000120000000a")]
    next: Cursor,
    /// Whether more changes are there already (ask again at once).
    more: bool,
}

/// The change feed: do-not-call changes and registry imports going live, in commit order.
///
/// Every add, extension, expiry taking effect and removal of a do-not-call entry, and
/// every registry import going live, after the cursor `after`. With `wait`, an answer
/// with no changes waits up to that long for one (a long poll). A client that keeps the
/// `next` cursor misses nothing within TARCZA_CHANGES_RETENTION.
#[utoipa::path(
    get,
    operation_id = "list_changes",
    path = "/v1/changes",
    tag = "changes",
    params(ChangesQuery),
    extensions(("x-required-role" = json!("dialer")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The changes after the cursor, oldest first, and the cursor to read on from", body = ChangesView),
        (status = 410, description = "Changes after this cursor were pruned (`cursor_expired`): compare the lists again and follow from `after=latest`", body = ErrorBody),
        (status = 422, description = "Not a cursor of this feed (`invalid_cursor`), or a `limit` or `wait` that cannot be one (`invalid_parameter`)", body = ErrorBody),
    )
)]
async fn list(
    caller: ScopedDialer,
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
    // A client-bound key follows global entries, its client's and registry imports only.
    let visible_to = caller.binding().map(|b| b.client().key());
    let mut rows = changes::after_for(&mut conn, after, limit + 1, None, visible_to).await?;
    drop(conn);
    while rows.is_empty() && tokio::time::Instant::now() < deadline {
        let recheck = (tokio::time::Instant::now() + RECHECK).min(deadline);
        tokio::select! {
            _ = versions.changed() => {}
            _ = tokio::time::sleep_until(recheck) => {}
        }
        versions.borrow_and_update();
        let mut conn = state.db.acquire().await?;
        rows = changes::after_for(&mut conn, after, limit + 1, None, visible_to).await?;
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
