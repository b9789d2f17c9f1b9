//! Fuzzing the input parsers a hostile world reaches: phone number normalisation and the
//! registry CSV line reader. Mutates a corpus of real-world spellings (and plain noise),
//! feeds each input to both parsers under `catch_unwind`, and counts executions, panics
//! and broken invariants (a parsed number must re-parse, from its E.164 form, to itself).
//!
//!     cargo run --release --example fuzz -- [executions] [seed]
//!
//! Exits non-zero on any panic or broken invariant (README.md, "Test it").

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tarcza::domain::{PhoneNumber, Region};
use tarcza::import::csv::CsvLines;

const CORPUS: &[&str] = &[
    "+48 601 234 567",
    "0048601234567",
    "48601234567",
    "601-234-567",
    "(22) 123 45 67",
    "tel:+48-601-234-567",
    "601\u{a0}234\u{a0}567",
    "\u{ff16}\u{ff10}\u{ff11}\u{ff12}\u{ff13}\u{ff14}\u{ff15}\u{ff16}\u{ff17}",
    "+48 22 123 45 67 wew. 12",
    "601234567 ext 12",
    "601234567x12",
    "481234567",
    "+44 20 7946 0958",
    "+1 (212) 555-0100",
    "=cmd|' /C calc'!A0",
    "phone;op\n",
    "telefon,op",
    "\u{feff}numer|operacja",
    "601234567;A",
    "\"601 234 567\",D",
    "601234567\tadd",
    "+",
    "00",
    "tel:",
    "",
];

/// Pieces the mutator splices in: separators, prefixes and look-alike characters.
const PIECES: &[&str] = &[
    "+",
    "00",
    "48",
    "0",
    " ",
    "-",
    "(",
    ")",
    ".",
    "/",
    "x",
    "ext",
    "wew.",
    "tel:",
    ";",
    ",",
    "\t",
    "|",
    "\"",
    "\r",
    "\u{a0}",
    "\u{2009}",
    "\u{3000}",
    "\u{ff10}",
    "\u{0660}",
    "\u{feff}",
    "\0",
    "#",
    "*",
    "\u{1f4de}",
    "9999999999999999999999",
    "e",
    "A",
    "D",
];

/// xorshift64*: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(CORPUS[rng.below(CORPUS.len())].as_bytes());
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 => out.insert(at, rng.next() as u8),
            1 => out.insert(at, b'0' + rng.below(10) as u8),
            2 if !out.is_empty() => {
                out.remove(at.min(out.len() - 1));
            }
            3 => {
                let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                out.splice(at..at, piece.iter().copied());
            }
            4 => out.truncate(at),
            5 if !out.is_empty() => {
                let from = rng.below(out.len());
                let to = from + rng.below(out.len() - from + 1);
                let copy = out[from..to].to_vec();
                out.splice(at..at, copy);
            }
            6 => {
                let other = CORPUS[rng.below(CORPUS.len())].as_bytes();
                out.splice(at..at, other.iter().copied());
            }
            _ => {
                for _ in 0..rng.below(24) {
                    out.push(rng.next() as u8);
                }
            }
        }
    }
}

/// One execution: both parsers on one input. Returns false on a broken invariant.
fn execute(input: &[u8], regions: &[Region], csv: &mut CsvLines, line: u64) -> bool {
    let _ = csv.feed(line, input);
    let text = String::from_utf8_lossy(input);
    for &region in regions {
        if let Ok(n) = PhoneNumber::parse(&text, region) {
            if PhoneNumber::parse(&n.e164(), region) != Ok(n) {
                eprintln!(
                    "invariant broken: {text:?} -> {} does not re-parse",
                    n.e164()
                );
                return false;
            }
            let _ = n.masked();
        }
    }
    true
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .map_or(10_000_000, |a| a.parse().expect("executions"));
    let seed: u64 = args
        .next()
        .map_or(0x7a72_c2a5, |a| a.parse().expect("seed"));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    panic::set_hook(Box::new(|_| {})); // counted below, not printed
    let done = Arc::new(AtomicU64::new(0));
    let panics = Arc::new(AtomicU64::new(0));
    let broken = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (done, panics, broken) = (done.clone(), panics.clone(), broken.clone());
            std::thread::spawn(move || {
                let regions: Vec<Region> = ["PL", "GB", "US", "DE"]
                    .iter()
                    .map(|r| r.parse().expect("region"))
                    .collect();
                let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let mut input = Vec::with_capacity(256);
                let mut csv = CsvLines::new(regions[0]);
                let share = total / threads + u64::from(t < total % threads);
                for i in 0..share {
                    mutate(&mut rng, &mut input);
                    // A fresh reader now and then, so header detection is fuzzed too.
                    if i % 64 == 0 {
                        csv = CsvLines::new(regions[0]);
                    }
                    let line = i % 64 + 1;
                    let run = panic::catch_unwind(AssertUnwindSafe(|| {
                        execute(&input, &regions, &mut csv, line)
                    }));
                    match run {
                        Ok(true) => {}
                        Ok(false) => {
                            broken.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            panics.fetch_add(1, Ordering::Relaxed);
                            eprintln!("panic on input {:?}", String::from_utf8_lossy(&input));
                            csv = CsvLines::new(regions[0]);
                        }
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 1_000_000 == 0 {
                        eprintln!("{n} executions, {:.0?}", started.elapsed());
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("fuzz worker");
    }
    let (n, p, b) = (
        done.load(Ordering::Relaxed),
        panics.load(Ordering::Relaxed),
        broken.load(Ordering::Relaxed),
    );
    println!(
        "executions: {n} (each: CSV line reader + number parser in 4 regions), panics: {p}, \
         broken invariants: {b}, threads: {threads}, seed: {seed}, time: {:.1?}",
        started.elapsed()
    );
    if p > 0 || b > 0 {
        std::process::exit(1);
    }
}
