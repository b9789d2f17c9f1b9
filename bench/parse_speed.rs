//! How long `PhoneNumber::parse` takes: the Polish fast path (target: a canonical Polish
//! number in at most 100 ns) and the full path that reads a number by the metadata.
//!
//!     cargo run --release --example parse_speed -- [seconds per measurement]
//!
//! Each row is the median of five measurements of back-to-back parses (after the start-up
//! warm-up of the fast path, as `tarcza serve` does it). The "100 000 distinct" rows cycle
//! through that many random Polish mobile numbers, so caches see what a dialer sends rather
//! than one input over and over. Exits non-zero when a canonical Polish row misses 100 ns
//! (README.md, "Performance").

use std::hint::black_box;
use std::time::{Duration, Instant};

use tarcza::domain::{warm_up_fast_path, PhoneNumber, Region};

const TARGET_NS: f64 = 100.0;
const RUNS: usize = 5;

/// (what, input, whether it is a canonical Polish number held to the target)
const SINGLE: &[(&str, &str, bool)] = &[
    ("canonical Polish, national", "601234567", true),
    ("canonical Polish, E.164", "+48601234567", true),
    ("Polish, grouped", "+48 601 234 567", false),
    ("Polish, 0048", "0048601234567", false),
    ("Polish landline in parentheses", "(22) 123 45 67", false),
    ("Polish with an extension", "601 234 567 wew. 12", false),
    ("Polish, not a number (30 + 7 digits)", "300094417", false),
    ("UK, full path", "+44 20 7946 0958", false),
    ("Russian toll free, full path", "+7 800 123-45-67", false),
    ("US, full path", "+1 201 555 0123", false),
    ("letters (error)", "601-CALL-NOW", false),
];

/// Parses `inputs` round-robin for about `budget`; nanoseconds per parse.
fn measure(inputs: &[String], budget: Duration) -> f64 {
    let mut parses = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for input in inputs.iter().cycle().take(10_000) {
            let _ = black_box(PhoneNumber::parse(black_box(input), Region::PL));
        }
        parses += 10_000;
    }
    start.elapsed().as_nanos() as f64 / parses as f64
}

fn median(inputs: &[String], budget: Duration) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS).map(|_| measure(inputs, budget)).collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.4);
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    warm_up_fast_path();
    let warm_up = start.elapsed();

    // Distinct canonical Polish mobile numbers (prefix 50…79 ranges that are mobile).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let distinct: Vec<u64> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let prefix = [50u64, 51, 53, 57, 60, 66, 69, 72, 73, 78, 79][(x % 11) as usize];
            prefix * 10_000_000 + (x >> 8) % 10_000_000
        })
        .collect();
    let national: Vec<String> = distinct.iter().map(u64::to_string).collect();
    let e164: Vec<String> = distinct.iter().map(|n| format!("+48{n}")).collect();
    assert!(national
        .iter()
        .chain(&e164)
        .all(|n| PhoneNumber::parse(n, Region::PL).is_ok()));

    let mut rows: Vec<(String, f64, bool)> = vec![
        (
            "canonical Polish, national, 100 000 distinct".to_owned(),
            median(&national, budget),
            true,
        ),
        (
            "canonical Polish, E.164, 100 000 distinct".to_owned(),
            median(&e164, budget),
            true,
        ),
    ];
    for &(what, input, held) in SINGLE {
        rows.push((
            format!("{what}: {input:?}"),
            median(&[input.to_owned()], budget),
            held,
        ));
    }

    println!("| input | ns per parse | target |");
    println!("|---|---|---|");
    let mut missed = false;
    for (what, ns, held) in &rows {
        let target = if *held {
            let met = *ns <= TARGET_NS;
            missed |= !met;
            if met {
                "≤ 100 ns: met"
            } else {
                "≤ 100 ns: NOT MET"
            }
        } else {
            ""
        };
        println!("| {what} | {ns:.0} | {target} |");
    }
    println!(
        "\nwarm-up of the fast path (every five-digit Polish class through the full path, \
         once at start-up): {} ms",
        warm_up.as_millis()
    );
    if missed {
        std::process::exit(1);
    }
}
