//! Elias–Fano containers: the sorted lows of one container in fewer bits than an array
//! or a bitmap where members are a few percent of the range (numbering plans that are
//! partly allocated: 10M Polish mobile numbers fill about 8% of theirs).
//!
//! Each low is split into a bucket (its top `16 - l` bits) and its `l` bottom bits. The
//! buckets are written in unary: each member a one, each bucket's end a zero. With `l`
//! chosen by size, that is about `l + 2` bits a member (6 at 5 000 members, where an
//! array takes 16 and a bitmap 13).
//!
//! The stream is cut into blocks of one cache line (64 bytes, aligned): each holds whole
//! buckets, their unary bits and their members' bottom bits, behind a 32-bit header (the
//! block's first bucket and how many unary bits it holds). Buckets take about equal room
//! where members are spread evenly, as they nearly are within 65 536 numbers of a plan,
//! so a lookup computes from its low alone the block that should hold its bucket, reads
//! that one line and steps to a neighbour in the few cases its header says otherwise. A
//! lookup in a registry far larger than the caches then waits for one line from memory,
//! not for a chain of them (a sample, then the upper bits it points to, then the bottom
//! bits they point to, as in the usual layout with the three apart).

use super::memory::{prefetch, Line};

/// Bits of a block: the header (first bucket: 16 bits, unary bits: 9), then the payload.
const HEADER: usize = 32;
const BLOCK_BITS: usize = 512;
const PAYLOAD: usize = BLOCK_BITS - HEADER;

/// How a container is laid out: its bottom-bit width and how many blocks it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) l: u32,
    pub(super) blocks: usize,
}

/// The bits a bucket of `members` members takes: a one and the bottom bits for each, and
/// the zero that ends it.
fn bucket_bits(members: usize, l: u32) -> usize {
    members * (l as usize + 1) + 1
}

/// The bottom-bit width for `lows` (ascending, distinct, at least one): of the widths at
/// which every bucket fits one block (all up to 6, where a full bucket takes 449 bits),
/// the one with the fewest bits in all.
pub(super) fn width(lows: &[u16]) -> u32 {
    (1..=16)
        .filter(|&l| fits(lows, l))
        .min_by_key(|&l| (1 << (16 - l)) + lows.len() * (l as usize + 1))
        .expect("at width 1 a bucket holds at most 2 members")
}

/// Whether each bucket of `lows` at width `l` fits one block.
fn fits(lows: &[u16], l: u32) -> bool {
    let mut largest = 0;
    let mut run = 0;
    for (i, &low) in lows.iter().enumerate() {
        let same = i > 0 && u32::from(lows[i - 1]) >> l == u32::from(low) >> l;
        run = if same { run + 1 } else { 1 };
        largest = largest.max(run);
    }
    bucket_bits(largest, l) <= PAYLOAD
}

/// Appends the container of `lows` (ascending, distinct, at least one) at width `l` (one
/// at which every bucket fits a block) to `out`, and returns its shape.
pub(super) fn encode(lows: &[u16], l: u32, out: &mut Vec<Line>) -> Shape {
    debug_assert!(fits(lows, l));
    let start = out.len();
    let buckets = 1 << (16 - l);
    let (mut first_bucket, mut first_member, mut used) = (0, 0, 0);
    let mut i = 0;
    for bucket in 0..buckets {
        let from = i;
        while i < lows.len() && usize::from(lows[i]) >> l == bucket {
            i += 1;
        }
        let bits = bucket_bits(i - from, l);
        if used + bits > PAYLOAD {
            out.push(block(lows, l, first_bucket..bucket, first_member..from));
            (first_bucket, first_member, used) = (bucket, from, 0);
        }
        used += bits;
    }
    out.push(block(
        lows,
        l,
        first_bucket..buckets,
        first_member..lows.len(),
    ));
    Shape {
        l,
        blocks: out.len() - start,
    }
}

/// The block of `buckets`, whose members are `lows[members]`.
fn block(
    lows: &[u16],
    l: u32,
    buckets: std::ops::Range<usize>,
    members: std::ops::Range<usize>,
) -> Line {
    let mut line = Line::default();
    let first_bucket = buckets.start as u64;
    let mut at = HEADER;
    let mut m = members.start;
    for bucket in buckets {
        while m < members.end && usize::from(lows[m]) >> l == bucket {
            line.0[at / 64] |= 1 << (at % 64);
            at += 1;
            m += 1;
        }
        // The bucket's end: a zero.
        at += 1;
    }
    let unary = at - HEADER;
    line.0[0] |= first_bucket | (unary as u64) << 16;
    for &low in &lows[members] {
        let bits = u64::from(low) & mask(l);
        line.0[at / 64] |= bits << (at % 64);
        if at % 64 + l as usize > 64 {
            line.0[at / 64 + 1] |= bits >> (64 - at % 64);
        }
        at += l as usize;
    }
    debug_assert!(at <= BLOCK_BITS);
    line
}

fn mask(l: u32) -> u64 {
    (1 << l) - 1
}

/// A block's first bucket and how many unary bits it holds.
#[inline]
fn header(line: &[u64; 8]) -> (usize, usize) {
    (
        (line[0] & 0xFFFF) as usize,
        (line[0] >> 16 & 0x1FF) as usize,
    )
}

/// The bits of word `w` of a block that are unary bits, of which it holds `unary`.
#[inline]
fn unary_mask(w: usize, unary: usize) -> u64 {
    let (from, to) = (HEADER.max(w * 64), (HEADER + unary).min(w * 64 + 64));
    if to <= from {
        return 0;
    }
    let ones = if to - from == 64 {
        u64::MAX
    } else {
        (1 << (to - from)) - 1
    };
    ones << (from - w * 64)
}

/// Whether the container in `blocks` holds `low`.
pub(super) fn contains(blocks: &[Line], shape: Shape, low: u16) -> bool {
    let l = shape.l;
    let bucket = usize::from(low) >> l;
    let bits = u64::from(low) & mask(l);
    // If the buckets took equal room, this one would lie in block `j`, `into / buckets`
    // of the way in: near an end, the bucket may well lie in the neighbouring block, so
    // ask for that line too (its miss overlaps this one's).
    let buckets = 1 << (16 - l);
    let scaled = bucket * shape.blocks;
    let mut j = scaled / buckets;
    let (into, quarter) = (scaled % buckets, buckets / 4);
    if into < quarter {
        prefetch(blocks, j.wrapping_sub(1));
    } else if into >= 3 * quarter {
        prefetch(blocks, j + 1);
    }
    loop {
        let line = &blocks[j].0;
        let (first, unary) = header(line);
        if first > bucket {
            j -= 1;
            continue;
        }
        let Some((start, end)) = bucket_at(line, unary, bucket - first) else {
            j += 1;
            continue;
        };
        // Members before `start`: its unary bits less the `bucket - first` zeros.
        let member = start - HEADER - (bucket - first);
        for m in member..member + (end - start) {
            let got = read(line, HEADER + unary + m * l as usize, l);
            if got >= bits {
                return got == bits;
            }
        }
        return false;
    }
}

/// Where in a block of `unary` unary bits the `k`-th bucket from its first has its ones:
/// from the bit after the block's `k - 1`-th zero (or the first unary bit) to its `k`-th
/// zero; `None` if that zero lies in a later block.
#[inline]
fn bucket_at(line: &[u64; 8], unary: usize, k: usize) -> Option<(usize, usize)> {
    let mut start = (k == 0).then_some(HEADER);
    // Zeros in the words before `w`.
    let mut seen = 0;
    for (w, &word) in line.iter().enumerate() {
        let zeros = !word & unary_mask(w, unary);
        let count = zeros.count_ones() as usize;
        if start.is_none() && seen + count >= k {
            start = Some(w * 64 + select(zeros, (k - 1 - seen) as u32) as usize + 1);
        }
        if seen + count > k {
            let end = w * 64 + select(zeros, (k - seen) as u32) as usize;
            return start.map(|s| (s, end));
        }
        seen += count;
    }
    None
}

/// The `l` bits from bit `at` of a block (which holds them all).
#[inline]
fn read(line: &[u64; 8], at: usize, l: u32) -> u64 {
    let (word, shift) = (at / 64, at % 64);
    let mut bits = line[word] >> shift;
    if shift + l as usize > 64 {
        bits |= line[word + 1] << (64 - shift);
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
    l: u32,
    /// Index in the split's lines of the block being read, and one past the container's.
    block: usize,
    end: usize,
    /// The block's first bucket and unary bits, the word being read and its ones not yet
    /// read, and the block's members read so far.
    first: usize,
    unary: usize,
    w: usize,
    word: u64,
    member: usize,
}

impl Cursor {
    /// A cursor over the container at `start` of `lines`.
    pub(super) fn new(lines: &[Line], start: usize, shape: Shape) -> Cursor {
        let mut cursor = Cursor {
            l: shape.l,
            block: start,
            end: start + shape.blocks,
            first: 0,
            unary: 0,
            w: 0,
            word: 0,
            member: 0,
        };
        cursor.enter(lines);
        cursor
    }

    /// Starts reading block `self.block`.
    fn enter(&mut self, lines: &[Line]) {
        let line = &lines[self.block].0;
        (self.first, self.unary) = header(line);
        (self.w, self.member) = (0, 0);
        self.word = line[0] & unary_mask(0, self.unary);
    }

    #[inline]
    pub(super) fn next(&mut self, lines: &[Line]) -> Option<u16> {
        if self.block == self.end {
            return None;
        }
        loop {
            if self.word != 0 {
                let line = &lines[self.block].0;
                let at = self.w * 64 + self.word.trailing_zeros() as usize;
                self.word &= self.word - 1;
                // Zeros before this one: its unary bits less the members before it.
                let bucket = (self.first + (at - HEADER) - self.member) as u64;
                let bits = read(
                    line,
                    HEADER + self.unary + self.member * self.l as usize,
                    self.l,
                );
                self.member += 1;
                return Some((bucket << self.l | bits) as u16);
            }
            self.w += 1;
            if self.w * 64 < HEADER + self.unary {
                self.word = lines[self.block].0[self.w] & unary_mask(self.w, self.unary);
                continue;
            }
            self.block += 1;
            if self.block == self.end {
                return None;
            }
            self.enter(lines);
        }
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

    /// Encodes `lows` at each width at which its buckets fit a block and checks that it
    /// reads back and answers `contains` for every member, every member's neighbours and
    /// every 61st low; returns how many widths were checked.
    fn check(lows: &[u16]) -> usize {
        let members: std::collections::BTreeSet<u16> = lows.iter().copied().collect();
        let probes: std::collections::BTreeSet<u16> = lows
            .iter()
            .flat_map(|&m| [m.wrapping_sub(1), m, m.wrapping_add(1)])
            .chain((0..=u16::MAX).step_by(61))
            .collect();
        let widths: Vec<u32> = (1..=16).filter(|&l| fits(lows, l)).collect();
        for &l in &widths {
            // Set lines around the container: a read outside it would show.
            let mut lines = vec![Line([u64::MAX; 8])];
            let shape = encode(lows, l, &mut lines);
            assert_eq!(shape.blocks, lines.len() - 1);
            lines.push(Line([u64::MAX; 8]));
            let mut cursor = Cursor::new(&lines, 1, shape);
            let read: Vec<u16> = std::iter::from_fn(|| cursor.next(&lines)).collect();
            assert_eq!(read, lows, "l={l}");
            assert_eq!(cursor.next(&lines), None, "l={l}: ended");
            let container = &lines[1..=shape.blocks];
            for &low in &probes {
                let expected = members.contains(&low);
                assert_eq!(contains(container, shape, low), expected, "l={l} low={low}");
            }
        }
        widths.len()
    }

    #[test]
    fn every_width_reads_back_and_answers_members_and_neighbours() {
        assert_eq!(check(&[0]), 16);
        assert_eq!(check(&[u16::MAX]), 16);
        assert_eq!(check(&[0, u16::MAX]), 16);
        check(&(1..=10).collect::<Vec<_>>());
        check(&(65_000..=u16::MAX).collect::<Vec<_>>());
        check(&(0..=u16::MAX).step_by(7).collect::<Vec<_>>());
        // Buckets of 64 members (at width 6: 449 bits, the fullest that fits a block)
        // and longer runs, which narrower widths must take.
        assert_eq!(check(&(0..=u16::MAX).collect::<Vec<_>>()), 6);
        let runs: Vec<u16> = (0..=u16::MAX).filter(|low| low % 1000 < 300).collect();
        check(&runs);
        // Lows bunched at one end: the guessed block is far from the bucket's.
        let bunched: Vec<u16> = (0..4000)
            .map(|i| 60_000 + i)
            .chain([3, 9, 40_000])
            .collect();
        let mut bunched = bunched;
        bunched.sort_unstable();
        check(&bunched);
    }

    #[test]
    fn the_width_is_the_smallest() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for n in [1, 2, 100, 4096, 5041, 20_000, 65_536] {
            // `n` distinct lows spread at random.
            let mut lows: Vec<u16> = if n == 65_536 {
                (0..=u16::MAX).collect()
            } else {
                let mut set = std::collections::BTreeSet::new();
                while set.len() < n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    set.insert(x as u16);
                }
                set.into_iter().collect()
            };
            lows.dedup();
            let best = encode(&lows, width(&lows), &mut Vec::new()).blocks;
            for l in (1..=16).filter(|&l| fits(&lows, l)) {
                let blocks = encode(&lows, l, &mut Vec::new()).blocks;
                assert!(blocks >= best, "n={n}: width {l} takes {blocks} < {best}");
            }
            // About l + 2 bits a member where numbers fill 8% of a range.
            if n == 5041 {
                assert!(best * BLOCK_BITS < n * 7, "{best} blocks");
            }
        }
    }
}
