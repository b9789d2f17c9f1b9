//! Two sides measured by turns in adjacent pairs — a b, b a, a b, b a — each pair's
//! ratio taken while the machine is in the same state. On this shared 2-vCPU machine
//! a side's throughput drifts within a minute (the ceiling read 89–110k req/s in four
//! 5-second runs of one step): a mean over runs minutes apart lets one slow stretch
//! decide a ratio; the median of adjacent pairs is less exposed to it, and every pair is
//! printed beside the ratio of the means.

use anyhow::Result;

use super::WrkRun;

/// How many adjacent pairs each comparison takes. Each run lasts `--seconds`, as before
/// the pairs, not less: a p99 depends on the run's length (the ceiling's read 2.1–3.0 ms in
/// 5 s runs and 4.2–4.3 ms in 10 s runs on 2026-11-29), and the p99 targets were set on 10 s.
pub const PAIRS: usize = 4;

/// The runs of both sides, pair by pair.
pub struct Turns<T> {
    pub a: Vec<T>,
    pub b: Vec<T>,
}

impl<T> Turns<T> {
    /// Runs `a` and `b` [`PAIRS`] times, a b then b a, alternately.
    pub async fn run<FA, FB>(mut a: FA, mut b: FB) -> Result<Turns<T>>
    where
        FA: AsyncFnMut() -> Result<T>,
        FB: AsyncFnMut() -> Result<T>,
    {
        let mut turns = Turns {
            a: Vec::with_capacity(PAIRS),
            b: Vec::with_capacity(PAIRS),
        };
        for i in 0..PAIRS {
            if i % 2 == 0 {
                turns.a.push(a().await?);
                turns.b.push(b().await?);
            } else {
                turns.b.push(b().await?);
                turns.a.push(a().await?);
            }
        }
        Ok(turns)
    }

    /// `b / a` of each pair, by `value`, and their median.
    pub fn ratios(&self, value: impl Fn(&T) -> f64) -> Ratios {
        let pairs: Vec<f64> = self
            .a
            .iter()
            .zip(&self.b)
            .map(|(a, b)| value(b) / value(a))
            .collect();
        let mut sorted = pairs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let a: Vec<f64> = self.a.iter().map(&value).collect();
        let b: Vec<f64> = self.b.iter().map(&value).collect();
        Ratios {
            pairs,
            median,
            of_means: mean_of(&b) / mean_of(&a),
        }
    }
}

impl Turns<WrkRun> {
    pub fn mean_a(&self) -> WrkRun {
        mean(&self.a)
    }

    pub fn mean_b(&self) -> WrkRun {
        mean(&self.b)
    }
}

/// The ratios of a comparison.
pub struct Ratios {
    /// Each pair's, in the order measured.
    pub pairs: Vec<f64>,
    /// The median of `pairs`: what a target is judged on.
    pub median: f64,
    /// The ratio of the two sides' means, for comparison with earlier runs.
    pub of_means: f64,
}

impl Ratios {
    /// `0.86× (median of 4 adjacent pairs: 0.85 0.87 0.84 0.88; of the means 0.86×)`.
    pub fn describe(&self) -> String {
        let pairs: Vec<String> = self.pairs.iter().map(|r| format!("{r:.2}")).collect();
        format!(
            "{:.2}× (median of {} adjacent pairs: {}; of the means {:.2}×)",
            self.median,
            self.pairs.len(),
            pairs.join(" "),
            self.of_means
        )
    }
}

pub fn mean_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

pub fn mean(runs: &[WrkRun]) -> WrkRun {
    let n = runs.len() as f64;
    WrkRun {
        rps: runs.iter().map(|r| r.rps).sum::<f64>() / n,
        p50_ms: runs.iter().map(|r| r.p50_ms).sum::<f64>() / n,
        p99_ms: runs.iter().map(|r| r.p99_ms).sum::<f64>() / n,
        errors: runs.iter().map(|r| r.errors).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_pair_does_not_decide_the_median() {
        let turns = Turns {
            a: vec![100.0, 100.0, 60.0, 100.0],
            b: vec![90.0, 86.0, 36.0, 88.0],
        };
        let r = turns.ratios(|v| *v);
        assert_eq!(r.pairs, vec![0.9, 0.86, 0.6, 0.88]);
        assert!((r.median - 0.87).abs() < 1e-9, "{}", r.median);
        assert!((r.of_means - 300.0 / 360.0).abs() < 1e-9);
    }
}
