//! Elias–Fano containers: the sorted lows of one container in fewer bits than an array
//! or a bitmap where members are a few percent of the range (numbering plans that are
//! partly allocated: 10M Polish mobile numbers fill about 8% of theirs).
//!
//! Each low is split into a bucket (its top `16 - l` bits) and its `l` bottom bits. The
//! bottom bits are packed, `l` per member, in member order; the buckets are written in
//! unary: member `i` of bucket `b` sets bit `b + i` of the upper bits, and each bucket
//! ends at a zero. With `l` chosen by size, that is about `l + 2` bits a member (6 at 5 000
//! members, where an array takes 16 and a bitmap 13). So that a lookup need not count
//! zeros from the start, a sample every [`STEP`] buckets gives how many members lie in
//! the buckets before it: a lookup reads the sample, a word or two of the upper bits and
//! the member's bottom bits.
//!
//! A container's words: the samples (four `u16` a word), the upper bits, the bottom bits.

use super::memory::prefetch;

/// Buckets between two samples.
const STEP: usize = 32;

/// How a container of `n` members is laid out: its member count and bottom-bit width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) n: usize,
    pub(super) l: u32,
}

impl Shape {
    /// The shape of `n` members (1 ≤ n ≤ 65 536) that takes the fewest words.
    pub(super) fn smallest(n: usize) -> Shape {
        (1..=16)
            .map(|l| Shape { n, l })
            .min_by_key(|s| s.words())
            .expect("a non-empty range")
    }

    fn buckets(self) -> usize {
        1 << (16 - self.l)
    }

    fn sample_words(self) -> usize {
        self.buckets().div_ceil(STEP).div_ceil(4)
    }

    fn upper_words(self) -> usize {
        (self.n + self.buckets()).div_ceil(64)
    }

    /// Words the container takes.
    pub(super) fn words(self) -> usize {
        self.sample_words() + self.upper_words() + (self.n * self.l as usize).div_ceil(64)
    }
}

/// Appends the container of `lows` (ascending, distinct, at least one) to `out`.
pub(super) fn encode(lows: &[u16], shape: Shape, out: &mut Vec<u64>) {
    debug_assert_eq!(lows.len(), shape.n);
    let start = out.len();
    out.resize(start + shape.words(), 0);
    let words = &mut out[start..];
    let (samples, rest) = words.split_at_mut(shape.sample_words());
    let (upper, lower) = rest.split_at_mut(shape.upper_words());
    let mut sampled = 0;
    for (i, &low) in lows.iter().enumerate() {
        let bucket = usize::from(low) >> shape.l;
        // Samples for every group that starts at or before this member's bucket.
        while sampled * STEP <= bucket {
            set_sample(samples, sampled, i);
            sampled += 1;
        }
        let at = bucket + i;
        upper[at / 64] |= 1 << (at % 64);
        let bits = u64::from(low) & mask(shape.l);
        let at = i * shape.l as usize;
        lower[at / 64] |= bits << (at % 64);
        if at % 64 + shape.l as usize > 64 {
            lower[at / 64 + 1] |= bits >> (64 - at % 64);
        }
    }
    while sampled < shape.buckets().div_ceil(STEP) {
        set_sample(samples, sampled, lows.len());
        sampled += 1;
    }
}

fn set_sample(samples: &mut [u64], group: usize, before: usize) {
    let before = u64::from(u16::try_from(before).expect("fewer than 65 536 members before"));
    samples[group / 4] |= before << (group % 4 * 16);
}

fn mask(l: u32) -> u64 {
    (1 << l) - 1
}

/// Whether the container in `words` holds `low`.
pub(super) fn contains(words: &[u64], shape: Shape, low: u16) -> bool {
    let bucket = usize::from(low) >> shape.l;
    let bits = u64::from(low) & mask(shape.l);
    let group = bucket / STEP;
    let upper_start = shape.sample_words();
    let lower_start = upper_start + shape.upper_words();
    // Members are near uniform over the lows, so where this one's bits lie can be
    // guessed before the sample says: ask for those lines now, and the sample's, the
    // upper bits' and the bottom bits' misses overlap (a large registry misses all three).
    let guess = (usize::from(low) * shape.n) >> 16;
    prefetch(words, upper_start + (bucket + guess) / 64);
    prefetch(words, lower_start + guess * shape.l as usize / 64);
    let before = (words[group / 4] >> (group % 4 * 16)) as u16;
    let upper = &words[upper_start..];
    // The bucket's members start after the ends of the buckets before it: from the
    // sample's position, pass the ends of the buckets between the sample and `bucket`
    // (fewer than `STEP`, so within the next 64 bits in most cases).
    let mut at = group * STEP + usize::from(before);
    let mut ends = (bucket % STEP) as u32;
    while ends > 0 {
        let zeros = !window(upper, at);
        let count = zeros.count_ones();
        if count >= ends {
            at += select(zeros, ends - 1) as usize + 1;
            break;
        }
        ends -= count;
        at += 64;
    }
    // The bucket's members are the run of ones from there.
    let lower = &words[lower_start..];
    let mut member = at - bucket;
    loop {
        let run = window(upper, at).trailing_ones() as usize;
        for i in member..member + run {
            let got = bottom_bits(lower, shape.l, i);
            if got >= bits {
                return got == bits;
            }
        }
        if run < 64 {
            return false;
        }
        at += 64;
        member += 64;
    }
}

/// The 64 upper bits from bit `at` (bits past the end of `upper` read as zeros; a
/// lookup never needs them, since each bucket's end lies before them).
#[inline]
fn window(upper: &[u64], at: usize) -> u64 {
    let (word, shift) = (at / 64, at % 64);
    let bits = upper[word] >> shift;
    if shift == 0 {
        return bits;
    }
    bits | upper.get(word + 1).map_or(0, |&next| next << (64 - shift))
}

/// The bottom `l` bits of member `i`.
#[inline]
fn bottom_bits(lower: &[u64], l: u32, i: usize) -> u64 {
    let at = i * l as usize;
    let (word, shift) = (at / 64, at % 64);
    let mut bits = lower[word] >> shift;
    if shift + l as usize > 64 {
        bits |= lower[word + 1] << (64 - shift);
    }
    bits & mask(l)
}

/// The position of the `k`-th set bit of `x` (from 0), which has more than `k`: the byte
/// that holds it by counting bits per byte in one go, then the bit within the byte.
#[inline]
fn select(x: u64, k: u32) -> u32 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut s = x - ((x >> 1) & 0x5555_5555_5555_5555);
    s = (s & 0x3333_3333_3333_3333) + ((s >> 2) & 0x3333_3333_3333_3333);
    s = (s + (s >> 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    // Byte j: the set bits of bytes 0..=j (at most 64, so no carries between bytes).
    let running = s.wrapping_mul(ONES);
    // High bit of byte j set where more than k bits lie in bytes 0..=j.
    let past = ((running | HIGHS) - (u64::from(k) + 1) * ONES) & HIGHS;
    let byte = past.trailing_zeros() / 8;
    let below = ((running << 8) >> (byte * 8)) as u8;
    let bits = (x >> (byte * 8)) as u8;
    byte * 8 + u32::from(IN_BYTE[usize::from(bits)][(k - u32::from(below)) as usize])
}

/// `IN_BYTE[b][k]`: the position of the `k`-th set bit of the byte `b`.
const IN_BYTE: [[u8; 8]; 256] = {
    let mut table = [[0; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let (mut bit, mut k) = (0, 0);
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                table[byte][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// The lows of one container, ascending.
#[derive(Debug)]
pub(super) struct Cursor {
    shape: Shape,
    /// Index in the split's words of the upper word being read, and of the first upper
    /// and bottom-bit words.
    at: usize,
    upper: usize,
    lower: usize,
    /// The set bits of the current upper word not yet read.
    word: u64,
    member: usize,
}

impl Cursor {
    /// A cursor over the container at `start` of `words`.
    pub(super) fn new(words: &[u64], start: usize, shape: Shape) -> Cursor {
        let upper = start + shape.sample_words();
        Cursor {
            shape,
            at: upper,
            upper,
            lower: upper + shape.upper_words(),
            word: words[upper],
            member: 0,
        }
    }

    #[inline]
    pub(super) fn next(&mut self, words: &[u64]) -> Option<u16> {
        if self.member == self.shape.n {
            return None;
        }
        while self.word == 0 {
            self.at += 1;
            self.word = words[self.at];
        }
        let position = (self.at - self.upper) * 64 + self.word.trailing_zeros() as usize;
        self.word &= self.word - 1;
        let bucket = (position - self.member) as u64;
        let bits = bottom_bits(&words[self.lower..], self.shape.l, self.member);
        self.member += 1;
        Some((bucket << self.shape.l | bits) as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_finds_every_set_bit() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for word in [x, x & x >> 1, x | x << 3, u64::MAX, 1 << 63, 1] {
                let positions: Vec<u32> = (0..64).filter(|b| word >> b & 1 == 1).collect();
                for (k, &p) in positions.iter().enumerate() {
                    assert_eq!(select(word, k as u32), p, "{word:#x} k={k}");
                }
            }
        }
    }

    /// Encodes `lows` in each of `widths` and checks that it reads back and answers
    /// `contains` for every member, every member's neighbours and every 61st low.
    fn check(lows: &[u16], widths: impl IntoIterator<Item = u32>) {
        let members: std::collections::BTreeSet<u16> = lows.iter().copied().collect();
        let probes: std::collections::BTreeSet<u16> = lows
            .iter()
            .flat_map(|&m| [m.wrapping_sub(1), m, m.wrapping_add(1)])
            .chain((0..=u16::MAX).step_by(61))
            .collect();
        for l in widths {
            let shape = Shape { n: lows.len(), l };
            // Set words around the container: a read outside it would show.
            let mut words = vec![u64::MAX];
            encode(lows, shape, &mut words);
            words.push(u64::MAX);
            let container = &words[1..];
            let mut cursor = Cursor::new(&words, 1, shape);
            let read: Vec<u16> = std::iter::from_fn(|| cursor.next(&words)).collect();
            assert_eq!(read, lows, "l={l}");
            for &low in &probes {
                let expected = members.contains(&low);
                assert_eq!(contains(container, shape, low), expected, "l={l} low={low}");
            }
        }
    }

    #[test]
    fn every_width_reads_back_and_answers_members_and_neighbours() {
        check(&[0], 1..=16);
        check(&[u16::MAX], 1..=16);
        check(&[0, u16::MAX], 1..=16);
        check(&(1..=10).collect::<Vec<_>>(), 1..=16);
        check(&(65_000..=u16::MAX).collect::<Vec<_>>(), 1..=16);
        let every_7th: Vec<u16> = (0..=u16::MAX).step_by(7).collect();
        // Wide bottom bits make few buckets, scanned member by member: slow to check
        // on large sets, and never the smallest shape there.
        check(&every_7th, [1, 2, 3, 5, 9]);
        check(&(0..=u16::MAX).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn the_width_is_the_smallest() {
        for n in [1, 2, 100, 4096, 5041, 20_000, 65_536] {
            let best = Shape::smallest(n);
            assert!((1..=16).all(|l| Shape { n, l }.words() >= best.words()));
        }
        // About l + 2 bits a member where numbers fill 8% of a range.
        let s = Shape::smallest(5041);
        assert!(s.words() * 64 < 5041 * 7, "{s:?}: {} words", s.words());
    }
}
