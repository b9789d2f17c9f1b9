//! The service's Prometheus metrics: counters and histograms written where things happen
//! (checks, HTTP requests, authentication, do-not-call changes, imports), held in one
//! [`Metrics`] value per process, so every test's `AppState` reads its own.
//!
//! Values that are state (the snapshot, registries, the database pool, running imports)
//! are not kept here: a [`Collector`] the HTTP layer registers (`http/metrics.rs`) reads
//! them at scrape time, so they always say what `/readyz` and the API say. No label ever
//! holds a phone number, a client, a campaign or a key.
//!
//! The hot path (`/v1/check`) uses handles resolved once here, never a label lookup:
//! an increment is an atomic add (about 5 ns), an observation two ([`Histogram`]: no lock,
//! which both cores would otherwise take in turns on every request).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]: Prometheus' classic text format.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the check latency histogram: 50 µs to 50 ms.
const CHECK_BUCKETS: [f64; 10] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
];
/// Upper bounds of the HTTP latency histogram: 100 µs to 30 s.
const HTTP_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];
/// Upper bounds of the import duration histogram: 1 s to 1 h.
const IMPORT_BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0];

/// How a number was asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// `GET /v1/check`.
    Single,
    /// `POST /v1/check`.
    Batch,
}

/// What a check came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Allowed,
    Blocked,
    /// Not a number (422 `invalid_number`, or a batch item's error).
    Invalid,
    /// No data loaded yet, or a registry with a source not loaded yet (503 `not_ready`).
    NotReady,
    /// Stale registry data or a stale snapshot (503 `stale_registry`, `stale_snapshot`).
    Stale,
}

impl CheckMode {
    const ALL: [CheckMode; 2] = [CheckMode::Single, CheckMode::Batch];

    fn as_str(self) -> &'static str {
        match self {
            CheckMode::Single => "single",
            CheckMode::Batch => "batch",
        }
    }
}

impl CheckResult {
    const ALL: [CheckResult; 5] = [
        CheckResult::Allowed,
        CheckResult::Blocked,
        CheckResult::Invalid,
        CheckResult::NotReady,
        CheckResult::Stale,
    ];

    fn as_str(self) -> &'static str {
        match self {
            CheckResult::Allowed => "allowed",
            CheckResult::Blocked => "blocked",
            CheckResult::Invalid => "invalid",
            CheckResult::NotReady => "not_ready",
            CheckResult::Stale => "stale",
        }
    }

    /// The result a refused check counts as, from the code of its error answer.
    pub fn of_error(code: &str) -> Option<CheckResult> {
        match code {
            "invalid_number" => Some(CheckResult::Invalid),
            "not_ready" => Some(CheckResult::NotReady),
            "stale_registry" | "stale_snapshot" => Some(CheckResult::Stale),
            _ => None,
        }
    }
}

/// Why a request's key was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <key>`.
    Malformed,
    /// A key that is unknown or revoked.
    Unknown,
    /// A valid key whose role is too low.
    Forbidden,
}

impl AuthFailure {
    const ALL: [AuthFailure; 4] = [
        AuthFailure::Missing,
        AuthFailure::Malformed,
        AuthFailure::Unknown,
        AuthFailure::Forbidden,
    ];

    fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Unknown => "unknown",
            AuthFailure::Forbidden => "forbidden",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    mode: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BlockLabels {
    /// `dnc`, `consent` or `registry`.
    source: &'static str,
    /// The registry's name; empty for `dnc`.
    registry: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The matched route (`/v1/dnc/{id}`), never the raw path; `unmatched` for 404s.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImportLabels {
    registry: String,
    /// `upload` or `sync`.
    source: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RowLabels {
    registry: String,
    /// `accepted`, `rejected` or `duplicate`.
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A histogram of durations observed without a lock: a relaxed atomic add to the
/// duration's bucket and one to the sum (prometheus-client's own takes a mutex per
/// observation). A scrape reads the buckets one by one, so it may miss an observation
/// made meanwhile (it counts in the next); its count is the sum of the buckets it read.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<Buckets>);

#[derive(Debug)]
struct Buckets {
    /// Upper bounds, in seconds (for the text) and nanoseconds (to observe).
    bounds: &'static [f64],
    bounds_ns: Box<[u64]>,
    /// Observations per bucket (not cumulative); the last is above every bound.
    counts: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram(Arc::new(Buckets {
            bounds,
            bounds_ns: bounds.iter().map(|b| (b * 1e9) as u64).collect(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }))
    }

    pub fn observe(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self.0.bounds_ns.partition_point(|&b| b < ns);
        self.0.counts[bucket].fetch_add(1, Relaxed);
        self.0.sum_ns.fetch_add(ns, Relaxed);
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let b = &self.0;
        let buckets: Vec<(f64, u64)> = b
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(b.counts.iter().map(|c| c.load(Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = b.sum_ns.load(Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

fn check_histogram() -> Histogram {
    Histogram::new(&CHECK_BUCKETS)
}

fn http_histogram() -> Histogram {
    Histogram::new(&HTTP_BUCKETS)
}

fn import_histogram() -> Histogram {
    Histogram::new(&IMPORT_BUCKETS)
}

impl Metrics {
    /// Metrics named `tarcza_…`, with `state` (if any) read at every scrape.
    pub fn new(state: Option<Box<dyn Collector>>) -> Metrics {
        let mut registry = Registry::with_prefix("tarcza");
        let checks = Family::<CheckLabels, Counter>::default();
        registry.register(
            "checks",
            "Numbers checked, by mode (single: GET /v1/check, batch: each number of a POST \
             /v1/check) and result (allowed, blocked, invalid, not_ready, stale; a refused \
             batch counts once)",
            checks.clone(),
        );
        let check_duration: HistogramFamily<ModeLabels> =
            Family::new_with_constructor(check_histogram);
        registry.register_with_unit(
            "check_duration",
            "Time to answer a check request (parsing, lookup, the answer's JSON), by mode",
            Unit::Seconds,
            check_duration.clone(),
        );
        let blocks = Family::<BlockLabels, Counter>::default();
        registry.register(
            "blocks",
            "Reasons given for blocked numbers, by source (dnc, consent, registry) and registry",
            blocks.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route, method and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(http_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's head to its answer, by matched route, method and status",
            Unit::Seconds,
            http_duration.clone(),
        );
        let auth = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused for their key, by reason (missing, malformed, unknown: unknown or \
             revoked, forbidden: role too low)",
            auth.clone(),
        );
        let dnc_changes = Family::<ActionLabels, Counter>::default();
        registry.register(
            "dnc_changes",
            "Changes to the do-not-call list made through this process, by action (add, \
             extend, existing: already blocked, remove)",
            dnc_changes.clone(),
        );
        let imports = Family::<ImportLabels, Counter>::default();
        registry.register(
            "imports",
            "Registry imports ended, by registry, source (upload, sync) and status \
             (succeeded, failed, refused)",
            imports.clone(),
        );
        let import_duration: HistogramFamily<SourceLabels> =
            Family::new_with_constructor(import_histogram);
        registry.register_with_unit(
            "import_duration",
            "Time from an import's start to its end, by source (upload, sync)",
            Unit::Seconds,
            import_duration.clone(),
        );
        let import_rows = Family::<RowLabels, Counter>::default();
        registry.register(
            "import_rows",
            "Data rows of ended imports, by registry and outcome (accepted, rejected, \
             duplicate: accepted again)",
            import_rows.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts made by this process, by outcome (delivered: a 2xx; \
             failed: another status, a timeout, a refused or unreachable target)",
            webhook_deliveries.clone(),
        );
        let webhooks_failing = Gauge::default();
        registry.register(
            "webhooks_failing",
            "Webhook subscriptions failing for longer than TARCZA_WEBHOOK_RETRY_FOR or expired, \
             as last seen by the replica delivering them (0 elsewhere)",
            webhooks_failing.clone(),
        );
        if let Some(state) = state {
            registry.register_collector(state);
        }

        let check = |mode: CheckMode, result: CheckResult| {
            checks.get_or_create_owned(&CheckLabels {
                mode: mode.as_str(),
                result: result.as_str(),
            })
        };
        let ok = |method: &str| {
            let labels = HttpLabels {
                route: "/v1/check".into(),
                method: method.into(),
                status: 200,
            };
            (
                http_requests.get_or_create_owned(&labels),
                http_duration.get_or_create_owned(&labels),
            )
        };
        Metrics {
            on: true,
            checks: CheckMode::ALL.map(|m| CheckResult::ALL.map(|r| check(m, r))),
            check_duration: CheckMode::ALL
                .map(|m| check_duration.get_or_create_owned(&ModeLabels { mode: m.as_str() })),
            dnc_blocks: blocks.get_or_create_owned(&BlockLabels {
                source: "dnc",
                registry: String::new(),
            }),
            consent_blocks: blocks.get_or_create_owned(&BlockLabels {
                source: "consent",
                registry: String::new(),
            }),
            check_ok: [ok("GET"), ok("POST")],
            auth_failures: AuthFailure::ALL
                .map(|r| auth.get_or_create_owned(&ReasonLabels { reason: r.as_str() })),
            blocks,
            registry_blocks: ArcSwap::default(),
            http_requests,
            http_duration,
            dnc_changes,
            imports,
            import_duration,
            import_rows,
            webhook_deliveries: ["delivered", "failed"]
                .map(|outcome| webhook_deliveries.get_or_create_owned(&OutcomeLabels { outcome })),
            webhooks_failing,
            registry,
        }
    }

    /// Metrics that count nothing (TARCZA_METRICS=false; `/metrics` is not served then).
    pub fn off() -> Metrics {
        Metrics {
            on: false,
            ..Metrics::new(None)
        }
    }

    /// The metrics in Prometheus' classic text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 << 10);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            // Only a collector's own error can get here; say so in the text, keep the rest.
            let _ = writeln!(out, "# encoding the metrics failed: {e}");
        }
        out
    }

    /// `count` checks of `mode` came to `result`.
    pub fn checked(&self, mode: CheckMode, result: CheckResult, count: u64) {
        if self.on && count > 0 {
            self.checks[mode as usize][result as usize].inc_by(count);
        }
    }

    /// A check request of `mode` took `took`.
    pub fn check_took(&self, mode: CheckMode, took: Duration) {
        if !self.on {
            return;
        }
        self.check_duration[mode as usize].observe(took);
    }

    /// `count` blocked numbers had a do-not-call entry among their reasons.
    pub fn dnc_blocks(&self, count: u64) {
        if self.on && count > 0 {
            self.dnc_blocks.inc_by(count);
        }
    }

    /// `count` blocked numbers lacked the consent a `consent_required` policy asks for.
    pub fn consent_blocks(&self, count: u64) {
        if self.on && count > 0 {
            self.consent_blocks.inc_by(count);
        }
    }

    /// `count` blocked numbers were in `registry`.
    pub fn registry_blocks(&self, registry: &str, count: u64) {
        if !self.on || count == 0 {
            return;
        }
        if let Some((_, counter)) = self
            .registry_blocks
            .load()
            .iter()
            .find(|(name, _)| &**name == registry)
        {
            counter.inc_by(count);
            return;
        }
        let counter = self.blocks.get_or_create_owned(&BlockLabels {
            source: "registry",
            registry: registry.to_string(),
        });
        counter.inc_by(count);
        self.registry_blocks.rcu(|resolved| {
            let mut resolved = Vec::clone(resolved);
            if !resolved.iter().any(|(name, _)| &**name == registry) {
                resolved.push((registry.into(), counter.clone()));
            }
            resolved
        });
    }

    /// A request to `route` (its matched pattern) was answered `status` after `took`.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        if !self.on {
            return;
        }
        let hot = match (route, method, status) {
            ("/v1/check", "GET", 200) => Some(&self.check_ok[0]),
            ("/v1/check", "POST", 200) => Some(&self.check_ok[1]),
            _ => None,
        };
        if let Some((count, duration)) = hot {
            count.inc();
            duration.observe(took);
            return;
        }
        let labels = HttpLabels {
            route: route.to_string(),
            method: method.to_string(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&labels).observe(took);
    }

    pub fn auth_failed(&self, reason: AuthFailure) {
        if !self.on {
            return;
        }
        self.auth_failures[reason as usize].inc();
    }

    /// A change to the do-not-call list (`add`, `extend`, `existing`, `remove`).
    pub fn dnc_changed(&self, action: &'static str) {
        if !self.on {
            return;
        }
        self.dnc_changes
            .get_or_create(&ActionLabels { action })
            .inc();
    }

    /// A webhook delivery attempt ended: delivered (a 2xx) or not.
    pub fn webhook_attempt(&self, delivered: bool) {
        if !self.on {
            return;
        }
        self.webhook_deliveries[usize::from(!delivered)].inc();
    }

    /// How many webhook subscriptions are failing or expired.
    pub fn webhooks_failing(&self, count: i64) {
        if !self.on {
            return;
        }
        self.webhooks_failing.set(count);
    }

    /// An import of `registry` from `source` (`upload`, `sync`) ended.
    pub fn import_ended(&self, registry: &str, source: &'static str, ended: &ImportEnd) {
        if !self.on {
            return;
        }
        self.imports
            .get_or_create(&ImportLabels {
                registry: registry.to_string(),
                source,
                status: ended.status,
            })
            .inc();
        self.import_duration
            .get_or_create(&SourceLabels { source })
            .observe(ended.took);
        for (outcome, rows) in [
            ("accepted", ended.rows_accepted),
            ("rejected", ended.rows_rejected),
            ("duplicate", ended.rows_duplicate),
        ] {
            self.import_rows
                .get_or_create(&RowLabels {
                    registry: registry.to_string(),
                    outcome,
                })
                .inc_by(rows);
        }
    }
}

/// How an import ended, for [`Metrics::import_ended`].
#[derive(Debug)]
pub struct ImportEnd {
    pub status: &'static str,
    pub took: Duration,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_duplicate: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_and_labelled_as_documented() {
        let m = Metrics::default();
        m.checked(CheckMode::Batch, CheckResult::Blocked, 3);
        m.check_took(CheckMode::Single, Duration::from_micros(70));
        m.registry_blocks("robinson", 2);
        // Resolved once, counted into the same series after that.
        m.registry_blocks("robinson", 3);
        m.registry_blocks("other", 1);
        m.http_request("/v1/check", "GET", 200, Duration::from_micros(300));
        m.http_request("/v1/dnc/{id}", "GET", 404, Duration::from_micros(300));
        m.auth_failed(AuthFailure::Forbidden);
        let text = m.encode();
        for line in [
            r#"tarcza_checks_total{mode="batch",result="blocked"} 3"#,
            r#"tarcza_checks_total{mode="single",result="stale"} 0"#,
            r#"tarcza_check_duration_seconds_bucket{mode="single",le="0.0001"} 1"#,
            r#"tarcza_blocks_total{source="registry",registry="robinson"} 5"#,
            r#"tarcza_blocks_total{source="registry",registry="other"} 1"#,
            r#"tarcza_http_requests_total{route="/v1/check",method="GET",status="200"} 1"#,
            r#"tarcza_http_requests_total{route="/v1/dnc/{id}",method="GET",status="404"} 1"#,
            r#"tarcza_auth_failures_total{reason="forbidden"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.contains("# TYPE tarcza_check_duration_seconds histogram"));
    }

    #[test]
    fn histograms_count_each_duration_in_its_bucket_and_sum_them() {
        let h = Histogram::new(&CHECK_BUCKETS);
        // On a bound counts in that bucket (le: less than or equal).
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(51));
        h.observe(Duration::from_secs(1));
        let mut registry = Registry::default();
        registry.register("h", "test", h);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"h_bucket{le="5e-05"} 1"#,
            r#"h_bucket{le="0.0001"} 2"#,
            r#"h_bucket{le="0.05"} 2"#,
            r#"h_bucket{le="+Inf"} 3"#,
            "h_count 3",
            "h_sum 1.000101",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    /// Every series kept here as `/metrics` shows it after a fixed set of events, pinned
    /// in `metrics/exposition.txt`: a name, a help text, a label, a bucket or a value that
    /// changes shows here. A family keeps its series in a hash map (its order differs from
    /// one process to the next), so the series of a family are compared sorted by their
    /// labels; the families' order and each series' lines are compared as they are.
    #[test]
    fn the_exposition_is_pinned() {
        let m = Metrics::default();
        m.checked(CheckMode::Single, CheckResult::Allowed, 4);
        m.checked(CheckMode::Single, CheckResult::Invalid, 1);
        m.checked(CheckMode::Batch, CheckResult::Blocked, 3);
        m.check_took(CheckMode::Single, Duration::from_micros(70));
        m.check_took(CheckMode::Batch, Duration::from_millis(3));
        m.dnc_blocks(2);
        m.consent_blocks(1);
        m.registry_blocks("robinson", 2);
        m.registry_blocks("robinson", 1);
        m.http_request("/v1/check", "GET", 200, Duration::from_micros(300));
        m.http_request("/v1/check", "POST", 200, Duration::from_millis(2));
        m.http_request("/v1/dnc/{id}", "GET", 404, Duration::from_micros(800));
        m.auth_failed(AuthFailure::Unknown);
        m.dnc_changed("add");
        m.dnc_changed("remove");
        m.webhook_attempt(true);
        m.webhook_attempt(false);
        m.webhook_attempt(false);
        m.webhooks_failing(1);
        m.import_ended(
            "robinson",
            "upload",
            &ImportEnd {
                status: "succeeded",
                took: Duration::from_secs(42),
                rows_accepted: 1000,
                rows_rejected: 3,
                rows_duplicate: 7,
            },
        );
        assert_eq!(
            by_series(&m.encode()),
            by_series(include_str!("metrics/exposition.txt"))
        );
    }

    /// The text with each family's series sorted by their labels (`le` aside, so a
    /// histogram's lines stay together and in order).
    fn by_series(text: &str) -> String {
        fn flush(out: &mut String, series: &mut Vec<(String, Vec<&str>)>) {
            series.sort_by(|a, b| a.0.cmp(&b.0));
            for line in series.drain(..).flat_map(|(_, lines)| lines) {
                out.push_str(line);
                out.push('\n');
            }
        }
        let mut out = String::new();
        let mut series: Vec<(String, Vec<&str>)> = vec![];
        for line in text.lines() {
            if line.starts_with('#') {
                flush(&mut out, &mut series);
                out.push_str(line);
                out.push('\n');
                continue;
            }
            let (name, _) = line.rsplit_once(' ').expect("a sample has a value");
            let labels = name
                .split_once('{')
                .map_or("", |(_, l)| l.strip_suffix('}').expect("labels end with }"));
            let key = labels
                .split(',')
                .filter(|l| !l.starts_with("le="))
                .collect::<Vec<_>>()
                .join(",");
            match series.iter_mut().find(|(k, _)| *k == key) {
                Some((_, lines)) => lines.push(line),
                None => series.push((key, vec![line])),
            }
        }
        flush(&mut out, &mut series);
        out
    }

    #[test]
    fn switched_off_they_count_nothing() {
        let m = Metrics::off();
        m.checked(CheckMode::Single, CheckResult::Allowed, 1);
        m.check_took(CheckMode::Single, Duration::from_micros(70));
        m.registry_blocks("robinson", 2);
        m.http_request("/v1/check", "GET", 200, Duration::from_micros(300));
        m.auth_failed(AuthFailure::Missing);
        let text = m.encode();
        assert!(text.contains(r#"tarcza_checks_total{mode="single",result="allowed"} 0"#));
        assert!(!text.contains("robinson"), "{text}");
        assert!(text.contains(r#"tarcza_auth_failures_total{reason="missing"} 0"#));
    }
}
