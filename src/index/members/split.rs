//! The split form of a set of keys, for keys dense in their ranges (phone numbers): the
//! high 48 bits pick a container, which holds the low 16 bits in whichever of three
//! encodings is smallest for its member count: a sorted array, an Elias–Fano container
//! (see `elias_fano`) or a bitmap; arrays and bitmaps only in a set too large for the
//! caches (see [`LARGER_THAN_THE_CACHES`]). Found in one table load where the highs are
//! dense (a numbering plan), else by binary search.

use super::elias_fano::{self, Shape};
use super::memory::huge_pages;

const BITMAP_WORDS: usize = 1 << 10;
/// Flags in a container's `len`: a bitmap container, or an Elias–Fano container whose
/// bottom-bit width is in the bits from `WIDTH_SHIFT` and member count below them.
const BITMAP: u32 = 1 << 31;
const ELIAS_FANO: u32 = 1 << 30;
const WIDTH_SHIFT: u32 = 24;
const COUNT: u32 = (1 << WIDTH_SHIFT) - 1;

/// How a container holds its lows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A sorted array of `u16`: 2 bytes a member.
    Array,
    /// One bit per possible low: 8 KiB.
    Bitmap,
    /// About `l + 2` bits a member, `l` chosen by the member count.
    EliasFano,
}

/// A container's place: in `lows` (array) or `words` (the others).
#[derive(Debug, Clone, Copy)]
enum Container {
    Array { start: usize, len: usize },
    EliasFano { start: usize, shape: Shape },
    Bitmap { start: usize },
}

impl Container {
    #[inline]
    fn of((start, len): (u32, u32)) -> Container {
        let start = start as usize;
        if len & BITMAP != 0 {
            Container::Bitmap { start }
        } else if len & ELIAS_FANO != 0 {
            let shape = Shape {
                n: (len & COUNT) as usize,
                l: (len & !ELIAS_FANO) >> WIDTH_SHIFT,
            };
            Container::EliasFano { start, shape }
        } else {
            Container::Array {
                start,
                len: len as usize,
            }
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Split {
    /// `key >> 16` of each container, sorted.
    highs: Box<[u64]>,
    /// Per container: start in `lows` or `words`, and the member count with the
    /// encoding's flags (see [`Container::of`]).
    slots: Box<[(u32, u32)]>,
    lows: Box<[u16]>,
    /// Bitmap and Elias–Fano containers.
    words: Box<[u64]>,
    /// Container index by `high - base`, when the highs are dense enough for a table
    /// (phone numbers are): one load instead of a binary search over `highs`.
    direct: Option<Direct>,
}

#[derive(Debug, Default)]
struct Direct {
    base: u64,
    /// The container's slot by `high - base` (a copy of `slots[i]`, so a lookup makes
    /// one dependent load fewer); `ABSENT` where no container exists.
    index: Box<[(u32, u32)]>,
}

const ABSENT: (u32, u32) = (u32::MAX, 0);

impl Split {
    pub(super) fn iter(&self) -> SplitIter<'_> {
        SplitIter {
            split: self,
            next_container: 0,
            high: 0,
            cursor: Cursor::Done,
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.highs.len() * 8
            + self.slots.len() * 8
            + self.lows.len() * 2
            + self.words.len() * 8
            + self.direct.as_ref().map_or(0, |d| d.index.len() * 8)
    }

    /// The encoding of each container, in order.
    #[cfg(test)]
    pub(super) fn encodings(&self) -> Vec<Encoding> {
        self.slots
            .iter()
            .map(|&slot| match Container::of(slot) {
                Container::Array { .. } => Encoding::Array,
                Container::EliasFano { .. } => Encoding::EliasFano,
                Container::Bitmap { .. } => Encoding::Bitmap,
            })
            .collect()
    }

    /// The slot of the container holding `high`, if any.
    fn find(&self, high: u64) -> Option<(u32, u32)> {
        match &self.direct {
            Some(d) => {
                let offset = usize::try_from(high.checked_sub(d.base)?).ok()?;
                let slot = *d.index.get(offset)?;
                (slot != ABSENT).then_some(slot)
            }
            None => self.highs.binary_search(&high).ok().map(|i| self.slots[i]),
        }
    }

    pub(super) fn contains(&self, key: u64) -> bool {
        let Some(slot) = self.find(key >> 16) else {
            return false;
        };
        let low = key as u16;
        match Container::of(slot) {
            Container::Bitmap { start } => {
                let word = self.words[start + usize::from(low >> 6)];
                word >> (low & 63) & 1 == 1
            }
            Container::EliasFano { start, shape } => {
                elias_fano::contains(&self.words[start..], shape, low)
            }
            Container::Array { start, len } => search_lows(&self.lows[start..start + len], low),
        }
    }
}

/// How many containers the split form of `sorted` has.
pub(super) fn count_containers(sorted: &[u64]) -> usize {
    let mut count = 0;
    let mut last = None;
    for &k in sorted {
        if last != Some(k >> 16) {
            count += 1;
            last = Some(k >> 16);
        }
    }
    count
}

/// The keys of a [`Split`], ascending.
pub struct SplitIter<'a> {
    split: &'a Split,
    next_container: usize,
    /// `high << 16` of the current container.
    high: u64,
    cursor: Cursor,
}

/// Where the iteration stands in the current container.
enum Cursor {
    Done,
    /// The next index into `lows`, and one past the container's last.
    Array {
        at: usize,
        end: usize,
    },
    /// The index into `words` of `word`, one past the container's last word, and the
    /// bits of `word` not yet yielded.
    Bitmap {
        at: usize,
        end: usize,
        word: u64,
    },
    EliasFano(elias_fano::Cursor),
}

impl SplitIter<'_> {
    #[inline]
    pub(super) fn next(&mut self) -> Option<u64> {
        let split = self.split;
        loop {
            match &mut self.cursor {
                Cursor::Array { at, end } if *at < *end => {
                    let low = split.lows[*at];
                    *at += 1;
                    return Some(self.high | u64::from(low));
                }
                Cursor::Bitmap { at, end, word } => {
                    while *word == 0 && *at + 1 < *end {
                        *at += 1;
                        *word = split.words[*at];
                    }
                    if *word != 0 {
                        let bit = u64::from(word.trailing_zeros());
                        *word &= *word - 1;
                        let offset = (*at + BITMAP_WORDS - *end) as u64;
                        return Some(self.high | (offset * 64) | bit);
                    }
                }
                Cursor::EliasFano(c) => {
                    if let Some(low) = c.next(&split.words) {
                        return Some(self.high | u64::from(low));
                    }
                }
                Cursor::Array { .. } | Cursor::Done => {}
            }
            let i = self.next_container;
            if i >= split.highs.len() {
                self.cursor = Cursor::Done;
                return None;
            }
            self.next_container += 1;
            self.high = split.highs[i] << 16;
            self.cursor = match Container::of(split.slots[i]) {
                Container::Array { start, len } => Cursor::Array {
                    at: start,
                    end: start + len,
                },
                Container::Bitmap { start } => Cursor::Bitmap {
                    at: start,
                    end: start + BITMAP_WORDS,
                    word: split.words[start],
                },
                Container::EliasFano { start, shape } => {
                    Cursor::EliasFano(elias_fano::Cursor::new(&split.words, start, shape))
                }
            };
        }
    }
}

/// Finds `low` in a sorted container. Lows of real numbering ranges are close to
/// uniform, so the search starts where `low` would sit if they were (one cache line in
/// most cases) and widens from there, rather than bisecting the whole container.
fn search_lows(lows: &[u16], low: u16) -> bool {
    let n = lows.len();
    if n <= 16 {
        return lows.contains(&low);
    }
    let guess = (usize::from(low) * n) >> 16;
    // Most of the time `low` lies within 32 places of the guess: check that window in
    // one go (its cache lines load in parallel, unlike a bisection's chain of loads).
    let (lo, hi) = (guess.saturating_sub(32), (guess + 32).min(n));
    if (lo == 0 || lows[lo] <= low) && (hi == n || low <= lows[hi - 1]) {
        return lows[lo..hi].contains(&low);
    }
    let (mut lo, mut hi) = if lows[guess] <= low {
        // Gallop right until a bound above `low` is found.
        let mut step = 8;
        let mut lo = guess;
        loop {
            let probe = lo + step;
            if probe >= n {
                break (lo, n);
            }
            if lows[probe] > low {
                break (lo, probe);
            }
            lo = probe;
            step *= 2;
        }
    } else {
        let mut step = 8;
        let mut hi = guess;
        loop {
            if hi < step {
                break (0, hi);
            }
            let probe = hi - step;
            if lows[probe] <= low {
                break (probe, hi);
            }
            hi = probe;
            step *= 2;
        }
    };
    while hi - lo > 8 {
        let mid = lo + (hi - lo) / 2;
        if lows[mid] <= low {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lows[lo..hi].contains(&low)
}

/// The encodings before Elias–Fano containers.
pub(super) const ARRAYS_AND_BITMAPS: &[Encoding] = &[Encoding::Array, Encoding::Bitmap];

/// Past this many bytes of Elias–Fano containers a registry is far larger than the
/// last-level cache (32 MiB on the machine bench/ runs on), so nearly every lookup waits
/// for memory, and an Elias–Fano lookup waits for three lines in turn (a sample, the
/// upper bits it points to, the bottom bits they point to; the prefetch of the last two
/// where an even spread would put them overlaps only part of it) where a sorted array's
/// guessed window is one or two lines read together: bench/run's US-style 250M index
/// took 150 ns a lookup with Elias–Fano containers against 51 with arrays. Such a registry
/// is kept in arrays and bitmaps (at most 2 bytes a number; 2.0 for the 250M, 494 MiB),
/// a registry that fits the caches in Elias–Fano containers (10M Polish numbers: 7.5 MiB).
const LARGER_THAN_THE_CACHES: usize = 64 << 20;

pub(super) struct SplitBuilder {
    /// The encodings a container may take (the smallest of them is taken).
    allowed: &'static [Encoding],
    /// Bytes of Elias–Fano containers past which the set takes arrays and bitmaps only
    /// (see [`LARGER_THAN_THE_CACHES`]), and the bytes written so far.
    limit: usize,
    elias_fano_bytes: usize,
    highs: Vec<u64>,
    slots: Vec<(u32, u32)>,
    lows: Vec<u16>,
    words: Vec<u64>,
    current: Vec<u16>,
    current_high: Option<u64>,
    last: Option<u64>,
    len: usize,
}

impl SplitBuilder {
    /// A builder whose containers take the smallest of the `allowed` encodings.
    pub(super) fn new(allowed: &'static [Encoding]) -> SplitBuilder {
        SplitBuilder::with_limit(allowed, LARGER_THAN_THE_CACHES)
    }

    /// [`SplitBuilder::new`] with the Elias–Fano bytes past which the set takes arrays
    /// and bitmaps only (tests set a small one).
    pub(super) fn with_limit(allowed: &'static [Encoding], limit: usize) -> SplitBuilder {
        assert!(!allowed.is_empty(), "at least one encoding");
        SplitBuilder {
            allowed,
            limit,
            elias_fano_bytes: 0,
            highs: Vec::new(),
            slots: Vec::new(),
            lows: Vec::new(),
            words: Vec::new(),
            current: Vec::new(),
            current_high: None,
            last: None,
            len: 0,
        }
    }

    pub(super) fn push(&mut self, key: u64) {
        assert!(
            self.last.is_none_or(|l| l < key),
            "keys must be strictly ascending"
        );
        self.last = Some(key);
        self.len += 1;
        let high = key >> 16;
        if self.current_high != Some(high) {
            self.flush();
            self.current_high = Some(high);
        }
        self.current.push(key as u16);
    }

    fn flush(&mut self) {
        let Some(high) = self.current_high.take() else {
            return;
        };
        self.highs.push(high);
        let n = self.current.len();
        let shape = Shape::smallest(n);
        let bytes = |e: &Encoding| match e {
            Encoding::Array => n * 2,
            Encoding::EliasFano => shape.words() * 8,
            Encoding::Bitmap => BITMAP_WORDS * 8,
        };
        // On a tie, the faster to read: arrays, then bitmaps.
        let encoding = self
            .allowed
            .iter()
            .min_by_key(|e| (bytes(e), **e as u8))
            .copied()
            .expect("at least one encoding");
        match encoding {
            Encoding::Bitmap => {
                let start = self.words.len();
                self.words.resize(start + BITMAP_WORDS, 0);
                for &low in &self.current {
                    self.words[start + usize::from(low >> 6)] |= 1 << (low & 63);
                }
                self.slots.push((to_u32(start), BITMAP));
            }
            Encoding::EliasFano => {
                let start = to_u32(self.words.len());
                elias_fano::encode(&self.current, shape, &mut self.words);
                let len = ELIAS_FANO | shape.l << WIDTH_SHIFT | to_u32(n);
                self.slots.push((start, len));
                self.elias_fano_bytes += shape.words() * 8;
            }
            Encoding::Array => {
                self.slots.push((to_u32(self.lows.len()), to_u32(n)));
                self.lows.extend_from_slice(&self.current);
            }
        }
        self.current.clear();
        if self.elias_fano_bytes > self.limit && self.allowed.contains(&Encoding::Array) {
            self.without_elias_fano();
        }
    }

    /// Rebuilds the containers written so far in arrays and bitmaps, which the rest
    /// then take too (see [`LARGER_THAN_THE_CACHES`]).
    fn without_elias_fano(&mut self) {
        let written = Split {
            highs: std::mem::take(&mut self.highs).into_boxed_slice(),
            slots: std::mem::take(&mut self.slots).into_boxed_slice(),
            lows: std::mem::take(&mut self.lows).into_boxed_slice(),
            words: std::mem::take(&mut self.words).into_boxed_slice(),
            direct: None,
        };
        let mut rebuilt = SplitBuilder::new(ARRAYS_AND_BITMAPS);
        let mut keys = written.iter();
        while let Some(key) = keys.next() {
            rebuilt.push(key);
        }
        rebuilt.flush();
        self.allowed = ARRAYS_AND_BITMAPS;
        self.elias_fano_bytes = 0;
        self.highs = rebuilt.highs;
        self.slots = rebuilt.slots;
        self.lows = rebuilt.lows;
        self.words = rebuilt.words;
    }

    /// The set built, and how many keys it holds.
    pub(super) fn finish(mut self) -> (usize, Split) {
        self.flush();
        let direct = direct_index(&self.highs, &self.slots);
        let split = Split {
            highs: self.highs.into_boxed_slice(),
            slots: huge_pages(self.slots),
            lows: huge_pages(self.lows),
            words: huge_pages(self.words),
            direct,
        };
        (self.len, split)
    }
}

/// A table from high part to container slot, if it costs at most 16 bytes per
/// container (2 table entries each): true of numbering plans, which fill their ranges.
fn direct_index(highs: &[u64], slots: &[(u32, u32)]) -> Option<Direct> {
    let (&first, &last) = (highs.first()?, highs.last()?);
    let span = usize::try_from(last - first + 1).ok()?;
    if span > highs.len() * 2 + 1024 {
        return None;
    }
    let mut index = vec![ABSENT; span];
    for (&h, &slot) in highs.iter().zip(slots) {
        index[(h - first) as usize] = slot;
    }
    Some(Direct {
        base: first,
        index: index.into_boxed_slice(),
    })
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a registry holds fewer than 2^31 containers' worth of lows")
}
