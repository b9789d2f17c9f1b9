//! `GET /v1/stats` (dialer): what this process's `/v1/check` answered over the last
//! 24 hours, per minute. Counters in memory (see `activity.rs`): per process, empty
//! after a restart.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AsDialer, NoQuery};
use super::AppState;
use crate::activity::{Counts, Minute, MINUTES};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// What this process's `/v1/check` answered over the last 24 hours.
#[derive(Serialize, ToSchema)]
struct Stats {
    /// Always `process`: each replica counts its own checks, from its start.
    #[schema(example = "process")]
    scope: &'static str,
    /// The window's length in minutes (1440).
    #[schema(example = 1440)]
    window_minutes: usize,
    at: DateTime<Utc>,
    /// The whole window's counts.
    total: Counts,
    /// The minutes that saw any check, oldest first.
    minutes: Vec<Minute>,
}

/// Checks and blocks of this process over the last 24 hours, per minute.
///
/// Counters in this process's memory (a ring of 1440 minutes): each replica counts its
/// own, and they start empty after a restart. A batch counts each number; a number
/// blocked by both sources counts in both, one blocked for a missing consent in
/// `blocked` only.
#[utoipa::path(
    get,
    operation_id = "get_stats",
    path = "/v1/stats",
    tag = "stats",
    extensions(("x-required-role" = json!("dialer"))),
    responses(
        (status = 200, description = "The counts of the last 24 hours", body = Stats),
    )
)]
async fn stats(_caller: AsDialer, State(state): State<AppState>, _: NoQuery) -> Json<Stats> {
    let now = Utc::now();
    let minutes = state.activity.last_day(now);
    let mut total = Counts::default();
    for m in &minutes {
        total.checks += m.counts.checks;
        total.blocked += m.counts.blocked;
        total.blocked_dnc += m.counts.blocked_dnc;
        total.blocked_registry += m.counts.blocked_registry;
    }
    Json(Stats {
        scope: "process",
        window_minutes: MINUTES,
        at: now,
        total,
        minutes,
    })
}
