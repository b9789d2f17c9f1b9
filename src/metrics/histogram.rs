//! A histogram of durations that observes without a lock, for the hot path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::{MetricType, TypedMetric};

pub(super) type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

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
    pub(super) fn new(bounds: &'static [f64]) -> Histogram {
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

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::metrics::series::CHECK_BUCKETS;

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
}
