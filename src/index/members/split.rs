//! The split form of a set of keys, for keys dense in their ranges (phone numbers): the
//! high 48 bits pick a container, which holds the low 16 bits as a sorted array or, when
//! full enough, as a bitmap (the layout of roaring bitmaps). Found in one table load
//! where the highs are dense (a numbering plan), else by binary search.

use super::memory::huge_pages;

/// Members per container above which a bitmap is smaller than an array.
const ARRAY_MAX: usize = 4096;
const BITMAP_WORDS: usize = 1 << 10;
/// Flag in a container's `len` marking a bitmap container.
pub(super) const BITMAP: u32 = 1 << 31;

#[derive(Debug, Default)]
pub(super) struct Split {
    /// `key >> 16` of each container, sorted.
    highs: Box<[u64]>,
    /// Per container: start in `lows` (array) or in `bitmaps` (bitmap), and the member
    /// count, or `BITMAP` for a bitmap container.
    pub(super) slots: Box<[(u32, u32)]>,
    lows: Box<[u16]>,
    bitmaps: Box<[u64]>,
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
            at: 0,
            end: 0,
            bitmap: false,
            word: 0,
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.highs.len() * 8
            + self.slots.len() * 8
            + self.lows.len() * 2
            + self.bitmaps.len() * 8
            + self.direct.as_ref().map_or(0, |d| d.index.len() * 8)
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
        let Some((start, len)) = self.find(key >> 16) else {
            return false;
        };
        let low = key as u16;
        let start = start as usize;
        if len == BITMAP {
            let word = self.bitmaps[start + usize::from(low >> 6)];
            word >> (low & 63) & 1 == 1
        } else {
            search_lows(&self.lows[start..start + len as usize], low)
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
    /// Array: the next index into `lows`. Bitmap: the index into `bitmaps` of `word`.
    at: usize,
    /// One past the current container's last `lows` index or bitmap word.
    end: usize,
    bitmap: bool,
    /// The bits of the current bitmap word not yet yielded.
    word: u64,
}

impl SplitIter<'_> {
    #[inline]
    pub(super) fn next(&mut self) -> Option<u64> {
        loop {
            if self.bitmap {
                while self.word == 0 && self.at + 1 < self.end {
                    self.at += 1;
                    self.word = self.split.bitmaps[self.at];
                }
                if self.word != 0 {
                    let bit = u64::from(self.word.trailing_zeros());
                    self.word &= self.word - 1;
                    let offset = (self.at + BITMAP_WORDS - self.end) as u64;
                    return Some(self.high | (offset * 64) | bit);
                }
            } else if self.at < self.end {
                let low = self.split.lows[self.at];
                self.at += 1;
                return Some(self.high | u64::from(low));
            }
            let i = self.next_container;
            if i >= self.split.highs.len() {
                return None;
            }
            self.next_container += 1;
            self.high = self.split.highs[i] << 16;
            let (start, len) = self.split.slots[i];
            let start = start as usize;
            self.bitmap = len == BITMAP;
            self.at = start;
            if self.bitmap {
                self.end = start + BITMAP_WORDS;
                self.word = self.split.bitmaps[start];
            } else {
                self.end = start + len as usize;
            }
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

#[derive(Default)]
pub(super) struct SplitBuilder {
    highs: Vec<u64>,
    slots: Vec<(u32, u32)>,
    lows: Vec<u16>,
    bitmaps: Vec<u64>,
    current: Vec<u16>,
    current_high: Option<u64>,
    last: Option<u64>,
    len: usize,
}

impl SplitBuilder {
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
        if self.current.len() > ARRAY_MAX {
            let start = self.bitmaps.len();
            self.bitmaps.resize(start + BITMAP_WORDS, 0);
            for &low in &self.current {
                self.bitmaps[start + usize::from(low >> 6)] |= 1 << (low & 63);
            }
            self.slots.push((to_u32(start), BITMAP));
        } else {
            self.slots
                .push((to_u32(self.lows.len()), to_u32(self.current.len())));
            self.lows.extend_from_slice(&self.current);
        }
        self.current.clear();
    }

    /// The set built, and how many keys it holds.
    pub(super) fn finish(mut self) -> (usize, Split) {
        self.flush();
        let direct = direct_index(&self.highs, &self.slots);
        let split = Split {
            highs: self.highs.into_boxed_slice(),
            slots: huge_pages(self.slots),
            lows: huge_pages(self.lows),
            bitmaps: huge_pages(self.bitmaps),
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
