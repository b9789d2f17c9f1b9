//! The series of [`Metrics`]: each registered once with its name, help, labels and
//! buckets, the hot path's handles resolved, and the whole written out for `/metrics`.

use std::fmt::Write;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::histogram::{Histogram, HistogramFamily};
use super::labels::{
    ActionLabels, AuthFailure, BlockLabels, CheckLabels, CheckMode, CheckResult, HttpLabels,
    ImportLabels, ModeLabels, OutcomeLabels, ReasonLabels, RowLabels, SourceLabels,
};
use super::Metrics;

/// Upper bounds of the check latency histogram: 50 µs to 50 ms.
pub(super) const CHECK_BUCKETS: [f64; 10] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
];
/// Upper bounds of the HTTP latency histogram: 100 µs to 30 s.
const HTTP_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];
/// Upper bounds of the import duration histogram: 1 s to 1 h.
const IMPORT_BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0];

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

    /// The metrics in Prometheus' classic text format ([`CONTENT_TYPE`](super::CONTENT_TYPE)).
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
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::ImportEnd;

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
            by_series(include_str!("exposition.txt"))
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
}
