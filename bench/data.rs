//! Synthetic data for the benchmark: Polish mobile numbers, spellings, a deterministic RNG.

/// xorshift64*: deterministic and dependency-free; quality is ample for test data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Polish mobile prefixes (metadata: `(?:45|5[0137]|6[069]|7[2389]|88)\d{7}`).
const PL_MOBILE: [u64; 13] = [45, 50, 51, 53, 57, 60, 66, 69, 72, 73, 78, 79, 88];

/// A random Polish mobile number as E.164 digits (48 + 9 digits).
pub fn pl_mobile(rng: &mut Rng) -> u64 {
    let prefix = PL_MOBILE[rng.below(PL_MOBILE.len() as u64) as usize];
    48_000_000_000 + prefix * 10_000_000 + rng.below(10_000_000)
}

/// `count` distinct Polish mobile numbers, shuffled.
pub fn distinct_numbers(rng: &mut Rng, count: usize) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::with_capacity(count + count / 10);
    while v.len() < count {
        while v.len() < count + count / 20 {
            v.push(pl_mobile(rng));
        }
        v.sort_unstable();
        v.dedup();
    }
    v.truncate(count);
    shuffle(rng, &mut v);
    v
}

pub fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// One of the spellings dialers and exports use, URL-encoded for a query string.
pub fn spelling_urlencoded(n: u64, which: u64) -> String {
    let national = n % 1_000_000_000;
    let s = format!("{national:09}");
    match which % 6 {
        0 => s,
        1 => format!("%2B48{s}"),
        2 => format!("%2B48%20{}%20{}%20{}", &s[..3], &s[3..6], &s[6..]),
        3 => format!("0048{s}"),
        4 => format!("{}-{}-{}", &s[..3], &s[3..6], &s[6..]),
        _ => format!("48{s}"),
    }
}

/// A plain spelling for JSON bodies.
pub fn spelling(n: u64, which: u64) -> String {
    spelling_urlencoded(n, which)
        .replace("%2B", "+")
        .replace("%20", " ")
}

/// A random US number as E.164 digits: 1, area code and exchange 200–999, 4 digits.
pub fn us_number(rng: &mut Rng) -> u64 {
    let npa = 200 + rng.below(800);
    let nxx = 200 + rng.below(800);
    10_000_000_000 + npa * 10_000_000 + nxx * 10_000 + rng.below(10_000)
}

/// `n` US numbers spread evenly over the whole +1 range (gaps uniform up to twice the
/// mean), ascending: `bench/run`'s US-style registry (250M: ~3% of the range).
pub fn us_registry(n: u64, seed: u64) -> impl Iterator<Item = u64> + Clone {
    let span = 9_999_999_999u64 - 2_000_000_000;
    let gap = (span / n).max(1) * 2;
    let mut rng = Rng::new(seed);
    let mut next = 12_000_000_000u64;
    (0..n).map(move |_| {
        next += 1 + rng.below(gap - 1);
        next
    })
}
