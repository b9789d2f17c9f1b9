//! The service's Prometheus metrics: counters and histograms written where things happen
//! (checks, HTTP requests, authentication, do-not-call changes, imports), held in one
//! [`Metrics`] value per process, so every test's `AppState` reads its own.
//!
//! Values that are state (the snapshot, registries, the database pool, running imports)
//! are not kept here: a [`Collector`](prometheus_client::collector::Collector) the HTTP
//! layer registers (`http/metrics.rs`) reads them at scrape time, so they always say what
//! `/readyz` and the API say. No label ever holds a phone number, a client, a campaign or
//! a key.
//!
//! The hot path (`/v1/check`) uses handles resolved once here, never a label lookup:
//! an increment is an atomic add (about 5 ns), an observation two ([`Histogram`]: no lock,
//! which both cores would otherwise take in turns on every request).
//!
//! `series.rs` registers the series (names, help, labels, buckets) and writes them out;
//! `record.rs` counts what happens; `labels.rs` holds the labels' words and sets;
//! `histogram.rs` the lock-free [`Histogram`].

mod histogram;
mod labels;
mod record;
mod series;

use arc_swap::ArcSwap;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use histogram::Histogram;
use histogram::HistogramFamily;
use labels::{ActionLabels, BlockLabels, HttpLabels, ImportLabels, RowLabels, SourceLabels};
pub use labels::{AuthFailure, CheckMode, CheckResult};
pub use record::ImportEnd;

/// The content type of [`Metrics::encode`]: Prometheus' classic text format.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every metric of this process. Cheap to share (`Arc`); written from any thread.
#[derive(Debug)]
pub struct Metrics {
    /// `false` (TARCZA_METRICS=false): nothing is counted.
    on: bool,
    registry: Registry,
    /// `[mode][result]`, resolved once.
    checks: [[Counter; 5]; 2],
    check_duration: [Histogram; 2],
    dnc_blocks: Counter,
    consent_blocks: Counter,
    blocks: Family<BlockLabels, Counter>,
    /// Each registry's `blocks{source="registry"}` counter, resolved the first time it
    /// blocks a number: after that a blocked answer counts with a load and an atomic add
    /// (no label `String`, no lookup under the family's lock). A handful of registries.
    registry_blocks: ArcSwap<Vec<(Box<str>, Counter)>>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpLabels>,
    /// `GET` and `POST /v1/check` answered 200: the hot path, resolved once.
    check_ok: [(Counter, Histogram); 2],
    auth_failures: [Counter; 4],
    dnc_changes: Family<ActionLabels, Counter>,
    imports: Family<ImportLabels, Counter>,
    import_duration: HistogramFamily<SourceLabels>,
    import_rows: Family<RowLabels, Counter>,
    /// `[delivered, failed]`.
    webhook_deliveries: [Counter; 2],
    webhooks_failing: Gauge,
}
