//! The accepted rows of an import, kept as the keys they stand for rather than as rows.
//!
//! A file may repeat a number any number of times (a 2 KB archive can hold a hundred
//! million copies of one line), and a delta may add and remove it again. Rows go into a
//! buffer of fixed size; a full buffer is sorted, reduced to its distinct keys (for a
//! delta: the last operation on each key) and kept as a run in the index's own compact
//! form ([`Members`], about 2 bytes a number). Runs are merged the way a binary counter
//! carries, so merging costs O(n log n) over the whole file and memory follows the
//! distinct keys accepted (what the new index holds anyway), never the rows read.

use std::iter::Peekable;

use crate::domain::{Mode, Op};
use crate::index::Members;

/// Rows buffered before they are sorted into a run (16 MiB). Small in unit tests, so
/// that they exercise the merging.
const BUFFER_ROWS: usize = if cfg!(test) { 1 << 10 } else { 1 << 20 };

/// The distinct keys a file adds and removes, the last operation on a key winning.
/// A snapshot's `removes` is empty (remove rows are only counted: see [`Collector`]).
#[derive(Debug, Default)]
pub struct Collected {
    pub adds: Members,
    pub removes: Members,
    /// Phone numbers (dense in their ranges: the split form, built in one pass), not
    /// hashes (spread thin: the form is chosen by counting first).
    dense: bool,
}

/// The set of the keys `keys()` yields, strictly ascending.
fn build<I: Iterator<Item = u64>>(dense: bool, keys: impl Fn() -> I) -> Members {
    if dense {
        Members::from_sorted(keys())
    } else {
        Members::from_ascending(keys)
    }
}

impl Collected {
    /// Keys named by the file, each once.
    pub fn distinct(&self) -> usize {
        self.adds.len() + self.removes.len()
    }

    /// `older` followed by `newer`: a key takes its operation from the later of the two.
    fn then(older: &Collected, newer: &Collected) -> Collected {
        let dense = newer.dense;
        Collected {
            dense,
            adds: build(dense, || {
                union(
                    difference(older.adds.iter(), newer.removes.iter()),
                    newer.adds.iter(),
                )
            }),
            removes: build(dense, || {
                union(
                    difference(older.removes.iter(), newer.adds.iter()),
                    newer.removes.iter(),
                )
            }),
        }
    }

    /// The registry's members after applying these keys to `current` as a delta.
    pub fn applied_to(&self, current: &Members) -> Members {
        build(self.dense, || {
            union(
                difference(current.iter(), self.removes.iter()),
                self.adds.iter(),
            )
        })
    }
}

struct Run {
    /// Runs of equal level are merged into one of the next level.
    level: u32,
    keys: Collected,
}

/// Collects the accepted rows of one file.
pub struct Collector {
    mode: Mode,
    dense: bool,
    buffer: Vec<(u64, Op)>,
    /// Oldest first; levels strictly decreasing.
    runs: Vec<Run>,
    /// Remove rows seen in a snapshot (which refuses them).
    pub snapshot_removes: u64,
}

impl Collector {
    /// `dense`: the keys are phone numbers, not hashes.
    pub fn new(mode: Mode, dense: bool) -> Collector {
        Collector {
            mode,
            dense,
            buffer: Vec::new(),
            runs: Vec::new(),
            snapshot_removes: 0,
        }
    }

    /// Takes one accepted row. When the buffer is full it is sorted into a run off the
    /// async workers.
    pub async fn push(&mut self, key: u64, op: Op) {
        if self.mode == Mode::Snapshot && op == Op::Remove {
            self.snapshot_removes += 1;
            return;
        }
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(BUFFER_ROWS);
        }
        self.buffer.push((key, op));
        if self.buffer.len() >= BUFFER_ROWS {
            let buffer = std::mem::take(&mut self.buffer);
            let runs = std::mem::take(&mut self.runs);
            let (mode, dense) = (self.mode, self.dense);
            self.runs = tokio::task::spawn_blocking(move || add_run(runs, buffer, mode, dense))
                .await
                .expect("sorting a run does not panic");
        }
    }

    /// Every key collected, the last operation on each winning.
    pub async fn finish(self) -> Collected {
        let Collector {
            buffer,
            mut runs,
            mode,
            dense,
            ..
        } = self;
        tokio::task::spawn_blocking(move || {
            if !buffer.is_empty() {
                runs = add_run(runs, buffer, mode, dense);
            }
            let mut runs = runs.into_iter();
            let first = runs.next().map(|r| r.keys).unwrap_or(Collected {
                dense,
                ..Collected::default()
            });
            let all = runs.fold(first, |older, newer| Collected::then(&older, &newer.keys));
            crate::index::return_free_memory();
            all
        })
        .await
        .expect("merging runs does not panic")
    }
}

/// Sorts `buffer` into a run and merges equal-level runs at the end of `runs`.
fn add_run(mut runs: Vec<Run>, buffer: Vec<(u64, Op)>, mode: Mode, dense: bool) -> Vec<Run> {
    let mut run = Run {
        level: 0,
        keys: run_of(buffer, mode, dense),
    };
    while runs.last().is_some_and(|r| r.level == run.level) {
        let older = runs.pop().expect("checked");
        run = Run {
            level: run.level + 1,
            keys: Collected::then(&older.keys, &run.keys),
        };
    }
    runs.push(run);
    crate::index::return_free_memory();
    runs
}

/// The distinct keys of one buffer, each with its last operation.
fn run_of(mut rows: Vec<(u64, Op)>, mode: Mode, dense: bool) -> Collected {
    match mode {
        // Every row adds: order among equal keys does not matter.
        Mode::Snapshot => rows.sort_unstable_by_key(|&(key, _)| key),
        // Stable: rows of one key stay in file order, so the last is the one that counts.
        Mode::Delta => rows.sort_by_key(|&(key, _)| key),
    }
    let last = |op: Op| {
        let rows = &rows;
        rows.iter()
            .enumerate()
            .filter(move |&(i, &(key, o))| {
                o == op && rows.get(i + 1).is_none_or(|&(next, _)| next != key)
            })
            .map(|(_, &(key, _))| key)
    };
    Collected {
        adds: build(dense, || last(Op::Add)),
        removes: build(dense, || last(Op::Remove)),
        dense,
    }
}

/// Keys in `a` or `b`, ascending; both must be strictly ascending.
fn union(a: impl Iterator<Item = u64>, b: impl Iterator<Item = u64>) -> impl Iterator<Item = u64> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(&x), Some(&y)) if x < y => a.next(),
        (Some(&x), Some(&y)) if x > y => b.next(),
        (Some(_), Some(_)) => {
            b.next();
            a.next()
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

/// Keys in `a` but not in `b`, ascending; both must be strictly ascending.
fn difference(
    a: impl Iterator<Item = u64>,
    b: impl Iterator<Item = u64>,
) -> impl Iterator<Item = u64> {
    let mut b: Peekable<_> = b.peekable();
    a.filter(move |&x| {
        while b.next_if(|&y| y < x).is_some() {}
        b.peek() != Some(&x)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keys(m: &Members) -> Vec<u64> {
        m.iter().collect()
    }

    #[tokio::test]
    async fn repeated_rows_cost_one_key() {
        let mut c = Collector::new(Mode::Snapshot, true);
        for _ in 0..(3 * BUFFER_ROWS + 7) {
            c.push(48_601_234_567, Op::Add).await;
        }
        assert!(c.runs.iter().all(|r| r.keys.distinct() == 1));
        let done = c.finish().await;
        assert_eq!(keys(&done.adds), [48_601_234_567]);
        assert!(done.removes.is_empty());
    }

    #[tokio::test]
    async fn a_snapshot_counts_remove_rows_and_keeps_none() {
        let mut c = Collector::new(Mode::Snapshot, false);
        c.push(5, Op::Add).await;
        c.push(6, Op::Remove).await;
        assert_eq!(c.snapshot_removes, 1);
        let done = c.finish().await;
        assert_eq!(keys(&done.adds), [5]);
    }

    /// The last operation on a key wins, also across runs.
    fn reference(rows: &[(u64, bool)]) -> (Vec<u64>, Vec<u64>) {
        let mut last = std::collections::BTreeMap::new();
        for &(k, add) in rows {
            last.insert(k, add);
        }
        let adds = last.iter().filter(|e| *e.1).map(|e| *e.0).collect();
        let removes = last.iter().filter(|e| !*e.1).map(|e| *e.0).collect();
        (adds, removes)
    }

    fn delta_runs(rows: &[(u64, bool)], chunk: usize, dense: bool) -> Collected {
        let mut runs = Vec::new();
        for part in rows.chunks(chunk.max(1)) {
            let buffer = part
                .iter()
                .map(|&(k, add)| (k, if add { Op::Add } else { Op::Remove }))
                .collect();
            runs = add_run(runs, buffer, Mode::Delta, dense);
        }
        let mut runs = runs.into_iter();
        let first = runs.next().map(|r| r.keys).unwrap_or_default();
        runs.fold(first, |older, newer| Collected::then(&older, &newer.keys))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn runs_agree_with_replaying_the_rows_in_order(
            rows in prop::collection::vec((48_600_000_000u64..48_600_000_300, any::<bool>()), 0..400),
            chunk in 1usize..50,
            dense in any::<bool>(),
            current in prop::collection::vec(48_600_000_000u64..48_600_000_300, 0..100),
        ) {
            let got = delta_runs(&rows, chunk, dense);
            let (adds, removes) = reference(&rows);
            prop_assert_eq!(keys(&got.adds), adds.clone());
            prop_assert_eq!(keys(&got.removes), removes.clone());

            let current = Members::from_unsorted(current);
            let mut expected: Vec<u64> = current.iter().filter(|k| !removes.contains(k)).collect();
            expected.extend(adds);
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(keys(&got.applied_to(&current)), expected);
        }
    }
}
