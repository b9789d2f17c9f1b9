//! `GET /metrics`: the process's metrics in Prometheus' text format, with no key (or, with
//! TARCZA_METRICS_BIND, on a listener of their own instead). Besides the counters kept in
//! [`Metrics`], the values that are state are read here at every scrape ([`StateMetrics`]):
//! the snapshot, each registry's data and freshness, the do-not-call list, the database
//! and its pool, and the imports this process is running.

use std::fmt;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use sqlx::PgPool;

use super::AppState;
use crate::config::Settings;
use crate::import::Running;
use crate::index::freshness::fresh_until;
use crate::index::Index;
use crate::metrics::CONTENT_TYPE;

/// Prometheus metrics of this process.
#[utoipa::path(
    get,
    operation_id = "metrics",
    path = "/metrics",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "The metrics, in Prometheus' text format (0.0.4); README \
            \"Metrics\" lists them", content_type = "text/plain", body = String),
    )
)]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

/// What is read at scrape time: the snapshot, the settings, the pool, running imports.
pub struct StateMetrics {
    pub db: PgPool,
    pub index: Arc<Index>,
    pub settings: Arc<Settings>,
    pub imports: Arc<Running>,
}

impl fmt::Debug for StateMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateMetrics")
    }
}

/// A gauge with one series per label set.
fn gauge<V: EncodeGaugeValue + Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: &[(&[(&str, &str)], V)],
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in values {
        ConstGauge::new(*value).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

/// A gauge without labels.
fn single<V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: V,
) -> fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn seconds(t: Option<DateTime<Utc>>) -> Option<f64> {
    t.map(|t| t.timestamp_millis() as f64 / 1000.0)
}

impl Collector for StateMetrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let now = Utc::now();
        let snapshot = self.index.current();
        let stale = self.index.stale_for(self.settings.max_snapshot_lag);
        let ready = snapshot.is_some() && stale.is_none();
        single(
            &mut enc,
            "ready",
            "1 while /readyz answers 200 (data loaded, snapshot current), else 0",
            i64::from(ready),
        )?;
        let database_up = self.index.db_problem().is_none();
        single(
            &mut enc,
            "database_up",
            "1 when the last contact with PostgreSQL worked, else 0 (checks are then \
             answered from memory)",
            i64::from(database_up),
        )?;
        let in_use = (self.db.size() as i64 - self.db.num_idle() as i64).max(0);
        gauge(
            &mut enc,
            "db_pool_connections",
            "Connections of the database pool, by state (idle, in_use)",
            &[
                (&[("state", "idle")], self.db.num_idle() as i64),
                (&[("state", "in_use")], in_use),
            ],
        )?;
        single(
            &mut enc,
            "db_pool_max_connections",
            "Most connections the database pool opens",
            i64::from(self.db.options().get_max_connections()),
        )?;
        if let Some(lag) = self.index.lag() {
            single(
                &mut enc,
                "snapshot_lag_seconds",
                "Time since the snapshot was last confirmed current against the database \
                 (503 stale_snapshot past TARCZA_MAX_SNAPSHOT_LAG)",
                lag.as_secs_f64(),
            )?;
        }
        let Some(snapshot) = snapshot else {
            return Ok(());
        };
        single(
            &mut enc,
            "snapshot_version",
            "Database version the snapshot reflects",
            snapshot.version,
        )?;
        let age = (now - snapshot.loaded_at).num_milliseconds().max(0) as f64 / 1000.0;
        single(
            &mut enc,
            "snapshot_age_seconds",
            "Time since the snapshot was built (it is rebuilt when the data changes)",
            age,
        )?;
        let by_scope = snapshot.dnc_entries_by_scope(now);
        let dnc: Vec<([(&str, &str); 1], i64)> = by_scope
            .iter()
            .map(|(scope, n)| ([("scope", *scope)], *n as i64))
            .collect();
        let dnc: Vec<(&[(&str, &str)], i64)> = dnc.iter().map(|(l, v)| (&l[..], *v)).collect();
        gauge(
            &mut enc,
            "dnc_entries",
            "Do-not-call entries (numbers and prefixes) that block now, by scope (global, \
             client, campaign)",
            &dnc,
        )?;

        let registries = snapshot.registries();
        let names: Vec<[(&str, &str); 1]> = registries
            .iter()
            .map(|r| [("registry", &*r.name)])
            .collect();
        let mut entries = Vec::new();
        let (mut source, mut loaded, mut fresh, mut stale) = (vec![], vec![], vec![], vec![]);
        for (r, labels) in registries.iter().zip(&names) {
            let labels = &labels[..];
            entries.push((labels, r.members.len() as i64));
            if r.generation.is_none() {
                continue;
            }
            let max_age = self.settings.registry(&r.name).max_age;
            let until = fresh_until(r.source_time, r.loaded_at, max_age);
            if let Some(t) = seconds(r.source_time) {
                source.push((labels, t));
            }
            if let Some(t) = seconds(r.loaded_at) {
                loaded.push((labels, t));
            }
            if let Some(t) = seconds(until) {
                fresh.push((labels, t));
            }
            stale.push((labels, i64::from(until.is_some_and(|t| t <= now))));
        }
        gauge(
            &mut enc,
            "registry_entries",
            "Members of each registry's live data",
            &entries,
        )?;
        gauge(
            &mut enc,
            "registry_source_timestamp_seconds",
            "When each registry's live data was produced, as its source says (Unix time)",
            &source,
        )?;
        gauge(
            &mut enc,
            "registry_loaded_timestamp_seconds",
            "When each registry's live data was imported (Unix time)",
            &loaded,
        )?;
        gauge(
            &mut enc,
            "registry_fresh_until_timestamp_seconds",
            "When each registry's data stops counting as current (Unix time; absent \
             without a maximum age)",
            &fresh,
        )?;
        gauge(
            &mut enc,
            "registry_stale",
            "1 when a registry's data is past its fresh-until time, else 0",
            &stale,
        )?;

        // Imports this process runs (each replica reports its own).
        let running = self.imports.list();
        let mut in_progress = Vec::new();
        let (mut bytes, mut expected, mut ratio, mut rows) = (vec![], vec![], vec![], vec![]);
        let outcomes: Vec<[[(&str, &str); 2]; 3]> = names
            .iter()
            .map(|[(_, name)]| {
                ["read", "accepted", "rejected"].map(|o| [("registry", *name), ("outcome", o)])
            })
            .collect();
        for ((r, labels), outcome_labels) in registries.iter().zip(&names).zip(&outcomes) {
            let labels = &labels[..];
            let here = running.iter().find(|w| *w.registry == *r.name);
            in_progress.push((labels, i64::from(here.is_some())));
            let Some(w) = here else { continue };
            let now = w.progress.now();
            bytes.push((labels, now.bytes));
            if let Some(size) = w.progress.expected() {
                expected.push((labels, size as i64));
                if size > 0 {
                    ratio.push((labels, (now.bytes as f64 / size as f64).min(1.0)));
                }
            }
            for (l, v) in
                outcome_labels
                    .iter()
                    .zip([now.rows_total, now.rows_accepted, now.rows_rejected])
            {
                rows.push((&l[..], v));
            }
        }
        gauge(
            &mut enc,
            "import_in_progress",
            "1 while this process runs an import of the registry, else 0",
            &in_progress,
        )?;
        gauge(
            &mut enc,
            "import_progress_bytes",
            "Bytes of the running import's file received so far",
            &bytes,
        )?;
        gauge(
            &mut enc,
            "import_progress_expected_bytes",
            "Size of the running import's file, when known in advance",
            &expected,
        )?;
        gauge(
            &mut enc,
            "import_progress_ratio",
            "Share of the running import's file received (0 to 1), when its size is known",
            &ratio,
        )?;
        gauge(
            &mut enc,
            "import_progress_rows",
            "Data rows of the running import so far, by outcome (read, accepted, rejected)",
            &rows,
        )?;
        Ok(())
    }
}
