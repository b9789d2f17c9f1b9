//! What the rules of issue 15 add to one check, measured on their own: finding the prefix
//! entries of a number among 100 000 (seven prefix lengths in use) and finding its
//! consent among 1 000 000, in nanoseconds per lookup.
//!
//!     cargo run --release --example rules_speed -- [seconds per measurement]
//!
//! The data is shaped like `bench/run`'s rules step (bench/rules.rs); each row is the
//! median of five measurements over 100 000 distinct random Polish mobile numbers, so the
//! caches see what a dialer sends. The whole-request figures are `bench/run`'s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use tarcza::domain::{PhoneNumber, Scope};
use tarcza::index::{Consents, DncBlock, PrefixBlocks, PrefixMap};
use tarcza::store::snapshot::ConsentRow;

const RUNS: usize = 5;
const PL_MOBILE: [u64; 13] = [45, 50, 51, 53, 57, 60, 66, 69, 72, 73, 78, 79, 88];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    fn pl_mobile(&mut self) -> u64 {
        let prefix = PL_MOBILE[self.below(PL_MOBILE.len() as u64) as usize];
        48_000_000_000 + prefix * 10_000_000 + self.below(10_000_000)
    }
}

fn median(mut f: impl FnMut() -> f64) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS).map(|_| f()).collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

/// Runs `lookup` over `probes` round-robin for about `budget`; nanoseconds per lookup.
fn measure(probes: &[PhoneNumber], budget: Duration, mut lookup: impl FnMut(PhoneNumber)) -> f64 {
    let mut done = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for &n in probes {
            lookup(black_box(n));
        }
        done += probes.len() as u64;
    }
    start.elapsed().as_nanos() as f64 / done as f64
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.4);
    let budget = Duration::from_secs_f64(seconds);
    let mut rng = Rng(0x0072_756c_6573);
    let probes: Vec<PhoneNumber> = (0..100_000)
        .map(|_| PhoneNumber::from_digits(rng.pl_mobile()).expect("11 digits"))
        .collect();

    // 100 000 prefixes as bench/rules.rs makes them.
    let mut map = PrefixMap::default();
    let mut i = 0u64;
    while map.len() < 100_000 {
        let p = if i % 10 == 9 {
            let len = 5 + (i / 10) % 4;
            let national = 10u64.pow(len as u32 - 2);
            44 * national + 2 * national / 10 + rng.below(national / 10 * 8)
        } else {
            rng.pl_mobile() / 10u64.pow(11 - (9 + i % 3) as u32)
        };
        map.entry(p).or_default().push(DncBlock {
            id: i as i64,
            scope: Scope::Global,
            reason: None,
            expires_at: None,
        });
        i += 1;
    }
    let prefixes = PrefixBlocks::new(map);
    let empty = PrefixBlocks::default();

    // 1 000 000 consents of one client, half of them for probe numbers.
    let given = Utc::now() - chrono::Duration::days(1);
    let consents = Consents::build((0..1_000_000i64).map(|id| ConsentRow {
        id: id + 1,
        number: if id % 2 == 0 {
            probes[(id / 2) as usize % probes.len()].digits() as i64
        } else {
            rng.pl_mobile() as i64
        },
        client_key: "bench".into(),
        purpose: "marketing".into(),
        given_at: given,
        expires_at: None,
        withdrawn: false,
    }));
    let now = Utc::now();

    let mut hits = 0usize;
    let rows = [
        (
            "prefix entries of a number, none loaded",
            median(|| measure(&probes, budget, |n| hits += empty.matching(n).count())),
        ),
        (
            "prefix entries of a number, 100 000 loaded (7 lengths)",
            median(|| measure(&probes, budget, |n| hits += prefixes.matching(n).count())),
        ),
        (
            "consent of a number, 1 000 000 loaded",
            median(|| {
                measure(&probes, budget, |n| {
                    hits += usize::from(
                        consents
                            .find(n.digits(), "bench", "marketing", now)
                            .is_some(),
                    )
                })
            }),
        ),
    ];
    println!("| lookup | ns per lookup |");
    println!("|---|---|");
    for (what, ns) in rows {
        println!("| {what} | {ns:.0} |");
    }
    println!(
        "\n(consent index: {} consents, {:.1} B each; {hits} hits)",
        consents.len(),
        consents.heap_bytes() as f64 / consents.len() as f64
    );
}
