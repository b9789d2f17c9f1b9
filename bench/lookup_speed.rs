//! What a registry lookup (`Members::contains`) costs in the layout that ships (arrays,
//! Elias–Fano containers and bitmaps, the smallest per container) next to the layout
//! before Elias–Fano (arrays and bitmaps only) in the same run, with the bytes each
//! takes per number.
//!
//!     cargo run --release --example lookup_speed -- [numbers] [seconds per measurement] [US numbers]
//!
//! The registries are `bench/run`'s: distinct random Polish mobile numbers (10M by
//! default, about 8% of their ranges), then its US-style ones, 10M and `US numbers`
//! (250M by default, about 3% of the +1 range; 0 skips it). Probes are 1M random numbers
//! of the plan (mostly not members, as in a dialer's traffic) and 1M members, each
//! shuffled; each row is the median of five measurements. The whole-request figures are
//! `bench/run`'s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tarcza::index::Members;

#[path = "data.rs"]
#[allow(dead_code)]
mod data;

use data::Rng;

const RUNS: usize = 5;

/// Looks `probes` up round-robin for about `budget`; nanoseconds per lookup.
fn measure(m: &Members, probes: &[u64], budget: Duration) -> f64 {
    let mut done = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for &p in probes {
            black_box(m.contains(black_box(p)));
        }
        done += probes.len() as u64;
    }
    start.elapsed().as_nanos() as f64 / done as f64
}

fn median(m: &Members, probes: &[u64], budget: Duration) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS).map(|_| measure(m, probes, budget)).collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let us_count: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(250_000_000);
    let budget = Duration::from_secs_f64(seconds);

    let mut rng = Rng::new(0x6c6f_6f6b);
    let mut numbers = data::distinct_numbers(&mut rng, count);
    let random: Vec<u64> = (0..1_000_000).map(|_| data::pl_mobile(&mut rng)).collect();
    let members: Vec<u64> = (0..1_000_000)
        .map(|_| numbers[rng.below(count as u64) as usize])
        .collect();
    numbers.sort_unstable();
    compare(
        &format!("{count} Polish mobile numbers"),
        numbers.iter().copied(),
        &random,
        &members,
        budget,
    );
    drop(numbers);

    // bench/run's US-style registries (its `us-scale` row): 10M, which about fits the
    // caches, and `us_count`, which does not.
    let random: Vec<u64> = (0..1_000_000).map(|_| data::us_number(&mut rng)).collect();
    for (n, seed) in [(10_000_000, 1), (us_count, 3)] {
        if n == 0 {
            continue;
        }
        let every = (n / 1_000_000).max(1);
        let mut members: Vec<u64> = data::us_registry(n, seed).step_by(every as usize).collect();
        data::shuffle(&mut rng, &mut members);
        compare(
            &format!("{n} US-style numbers"),
            data::us_registry(n, seed),
            &random,
            &members,
            budget,
        );
    }
}

/// Builds `numbers` (ascending) in both layouts, checks that they agree, and prints a row
/// for each: bytes per number and ns per lookup of `random` and of `members`.
fn compare(
    title: &str,
    numbers: impl Iterator<Item = u64> + Clone,
    random: &[u64],
    members: &[u64],
    budget: Duration,
) {
    let layouts = [
        (
            "arrays, Elias–Fano, bitmaps (ships)",
            Members::from_sorted(numbers.clone()),
        ),
        (
            "arrays and bitmaps (before)",
            Members::from_sorted_roaring(numbers),
        ),
    ];
    let hits = |m: &Members| random.iter().filter(|&&p| m.contains(p)).count();
    assert_eq!(
        hits(&layouts[0].1),
        hits(&layouts[1].1),
        "the layouts disagree"
    );
    assert!(layouts
        .iter()
        .all(|(_, m)| members.iter().all(|&p| m.contains(p))));

    println!(
        "\n{title}; {} of {} random probes are members",
        hits(&layouts[0].1),
        random.len()
    );
    println!(
        "| layout | bytes per number | ns per lookup, random probes | ns per lookup, members |"
    );
    println!("|---|---|---|---|");
    let mut figures = Vec::new();
    for (name, m) in &layouts {
        let (r, h) = (median(m, random, budget), median(m, members, budget));
        println!(
            "| {name} | {:.2} | {r:.1} | {h:.1} |",
            m.heap_bytes() as f64 / m.len() as f64
        );
        figures.push((r, h));
    }
    println!(
        "ships / before: {:.2}× (random), {:.2}× (members)",
        figures[0].0 / figures[1].0,
        figures[0].1 / figures[1].1
    );
}
