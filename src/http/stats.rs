//! `GET /v1/stats` (dialer): what this process's `/v1/check` answered over the last
//! 24 hours, per minute. Counters in memory (see `activity.rs`): per process, empty
//! after a restart.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use super::extract::{AsDialer, NoQuery};
use super::AppState;
use crate::activity::{Counts, MINUTES};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/stats", get(stats))
}

async fn stats(_caller: AsDialer, State(state): State<AppState>, _: NoQuery) -> Json<Value> {
    let now = Utc::now();
    let minutes = state.activity.last_day(now);
    let mut total = Counts::default();
    for m in &minutes {
        total.checks += m.counts.checks;
        total.blocked += m.counts.blocked;
        total.blocked_dnc += m.counts.blocked_dnc;
        total.blocked_registry += m.counts.blocked_registry;
    }
    Json(json!({
        "scope": "process",
        "window_minutes": MINUTES,
        "at": now,
        "total": total,
        "minutes": minutes,
    }))
}
