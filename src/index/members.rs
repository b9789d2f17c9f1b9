//! The members of one registry: a set of 64-bit keys (E.164 numbers as integers, or the
//! first 8 bytes of a hash) held compactly and answered without allocation.
//!
//! Phone numbers are dense in their national ranges, so plain registries are stored the
//! way roaring bitmaps store 32-bit sets: keys are split into a high part (`key >> 16`)
//! and a 16-bit low part. Each high part present gets a container: a sorted array of
//! `u16` lows (2 bytes a member) or, past 4096 members, a 8 KiB bitmap (under 2 bytes a
//! member). Keys spread thinly over the 64-bit space (hashes) would pay a container per
//! member, so such sets stay a plain sorted `u64` array (8 bytes a member): the builder
//! picks whichever is smaller.

/// Members per container above which a bitmap is smaller than an array.
const ARRAY_MAX: usize = 4096;
const BITMAP_WORDS: usize = 1 << 10;
/// Flag in a container's `len` marking a bitmap container.
const BITMAP: u32 = 1 << 31;

/// An immutable set of `u64` keys. Build it once, share it behind an `Arc`.
#[derive(Debug)]
pub struct Members {
    len: usize,
    repr: Repr,
}

#[derive(Debug)]
enum Repr {
    /// Sorted, without duplicates.
    Plain(Box<[u64]>),
    Split(Split),
}

#[derive(Debug, Default)]
struct Split {
    /// `key >> 16` of each container, sorted.
    highs: Box<[u64]>,
    /// Per container: start in `lows` (array) or in `bitmaps` (bitmap), and the member
    /// count, or `BITMAP` for a bitmap container.
    slots: Box<[(u32, u32)]>,
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

impl Default for Members {
    fn default() -> Self {
        Members {
            len: 0,
            repr: Repr::Plain(Box::default()),
        }
    }
}

impl Members {
    /// Builds the set from keys in any order, with duplicates.
    pub fn from_unsorted(mut keys: Vec<u64>) -> Members {
        keys.sort_unstable();
        keys.dedup();
        let len = keys.len();
        let containers = count_containers(&keys);
        let split_bytes = containers * 16 + len * 2;
        if split_bytes < len * 8 {
            Members::from_sorted(keys)
        } else {
            Members {
                len,
                repr: Repr::Plain(keys.into_boxed_slice()),
            }
        }
    }

    /// Builds the split form from keys in ascending order without duplicates, without
    /// holding them all at once (for very large registries).
    ///
    /// # Panics
    /// If the keys are not strictly ascending.
    pub fn from_sorted(keys: impl IntoIterator<Item = u64>) -> Members {
        let mut b = SplitBuilder::default();
        for key in keys {
            b.push(key);
        }
        b.finish()
    }

    /// Builds the set from keys that `keys()` yields strictly ascending, in the smaller of
    /// the two forms (as [`Members::from_unsorted`] chooses). `keys` is called twice, to
    /// count and then to build, so no copy of the keys is held: merging large sets costs
    /// only the result.
    ///
    /// # Panics
    /// If the keys are not strictly ascending.
    pub fn from_ascending<I: Iterator<Item = u64>>(keys: impl Fn() -> I) -> Members {
        let (mut len, mut containers, mut last) = (0usize, 0usize, None);
        for key in keys() {
            len += 1;
            if last != Some(key >> 16) {
                containers += 1;
                last = Some(key >> 16);
            }
        }
        if containers * 16 + len * 2 < len * 8 {
            return Members::from_sorted(keys());
        }
        let mut plain = Vec::with_capacity(len);
        for key in keys() {
            assert!(
                plain.last().is_none_or(|&l| l < key),
                "keys must be strictly ascending"
            );
            plain.push(key);
        }
        Members {
            len: plain.len(),
            repr: Repr::Plain(plain.into_boxed_slice()),
        }
    }

    pub fn contains(&self, key: u64) -> bool {
        match &self.repr {
            Repr::Plain(keys) => keys.binary_search(&key).is_ok(),
            Repr::Split(s) => s.contains(key),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The keys in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Plain(keys) => Iter::Plain(keys.iter()),
            Repr::Split(split) => Iter::Split(SplitIter {
                split,
                next_container: 0,
                high: 0,
                at: 0,
                end: 0,
                bitmap: false,
                word: 0,
            }),
        }
    }

    /// Bytes of heap this set holds (for the memory figures of the benchmark).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Plain(keys) => keys.len() * 8,
            Repr::Split(s) => {
                s.highs.len() * 8
                    + s.slots.len() * 8
                    + s.lows.len() * 2
                    + s.bitmaps.len() * 8
                    + s.direct.as_ref().map_or(0, |d| d.index.len() * 8)
            }
        }
    }

    /// How many members of `self` are not in `newer`: what replacing `self` by `newer`
    /// would remove.
    pub fn count_missing_from(&self, newer: &Members) -> usize {
        let mut theirs = newer.iter().peekable();
        let mut missing = 0;
        for key in self.iter() {
            while theirs.next_if(|&k| k < key).is_some() {}
            if theirs.next_if_eq(&key).is_none() {
                missing += 1;
            }
        }
        missing
    }
}

fn count_containers(sorted: &[u64]) -> usize {
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

impl Split {
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

    fn contains(&self, key: u64) -> bool {
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

/// The keys of a [`Members`], ascending. Written out by hand rather than as nested
/// adapters: imports merge sets of millions of keys through it, several times over.
pub enum Iter<'a> {
    Plain(std::slice::Iter<'a, u64>),
    Split(SplitIter<'a>),
}

impl Iterator for Iter<'_> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        match self {
            Iter::Plain(keys) => keys.next().copied(),
            Iter::Split(s) => s.next(),
        }
    }
}

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
    fn next(&mut self) -> Option<u64> {
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
struct SplitBuilder {
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
    fn push(&mut self, key: u64) {
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

    fn finish(mut self) -> Members {
        self.flush();
        let direct = direct_index(&self.highs, &self.slots);
        Members {
            len: self.len,
            repr: Repr::Split(Split {
                highs: self.highs.into_boxed_slice(),
                slots: huge_pages(self.slots),
                lows: huge_pages(self.lows),
                bitmaps: huge_pages(self.bitmaps),
                direct,
            }),
        }
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

/// Moves a large array into memory backed by transparent huge pages where the kernel
/// offers them on request (`madvise` mode, the common default). A lookup touches a few
/// random cache lines of a structure that can be hundreds of MiB; with 4 KiB pages most
/// of them also miss the TLB, with 2 MiB pages few do.
fn huge_pages<T: Copy>(v: Vec<T>) -> Box<[T]> {
    const WORTH_IT: usize = 8 << 20;
    let bytes = std::mem::size_of_val(v.as_slice());
    if bytes < WORTH_IT {
        return v.into_boxed_slice();
    }
    let mut fresh: Vec<T> = Vec::with_capacity(v.len());
    advise_huge_pages(fresh.as_mut_ptr().cast(), bytes);
    fresh.extend_from_slice(&v);
    fresh.into_boxed_slice()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(start: *mut u8, bytes: usize) {
    const PAGE: usize = 4096;
    let addr = start as usize;
    let aligned = addr.next_multiple_of(PAGE);
    let len = (addr + bytes).saturating_sub(aligned) / PAGE * PAGE;
    if len == 0 {
        return;
    }
    // SAFETY: the range lies inside an allocation we own and have not touched yet;
    // MADV_HUGEPAGE only changes how the kernel backs it, never its contents, and a
    // failure (e.g. THP disabled) leaves ordinary pages, which is fine.
    unsafe {
        libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

/// Hands memory freed after a large build back to the operating system: glibc keeps
/// freed heap in its arenas otherwise, and resident memory would stay at the build's peak.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn return_free_memory() {
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_free_memory() {}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _bytes: usize) {}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a registry holds fewer than 2^31 containers' worth of lows")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn duplicates_collapse_and_lookups_hit() {
        let m = Members::from_unsorted(vec![48601234567, 48501234567, 48601234567]);
        assert_eq!(m.len(), 2);
        assert!(m.contains(48601234567));
        assert!(!m.contains(48601234568));
        assert!(!Members::default().contains(0));
    }

    #[test]
    fn missing_counts_what_a_replacement_removes() {
        let old = Members::from_unsorted(vec![1, 2, 3, 4, 5]);
        let new = Members::from_unsorted(vec![2, 4, 6, 7]);
        assert_eq!(old.count_missing_from(&new), 3);
        assert_eq!(new.count_missing_from(&old), 2);
        assert_eq!(old.count_missing_from(&Members::default()), 5);
    }

    #[test]
    fn dense_numbers_take_about_two_bytes_and_hashes_eight() {
        let dense: Vec<u64> = (0..200_000u64).map(|i| 48_600_000_000 + i * 7).collect();
        let m = Members::from_unsorted(dense.clone());
        assert!(matches!(m.repr, Repr::Split(_)));
        assert!(
            m.heap_bytes() <= dense.len() * 2 + 4096,
            "{}",
            m.heap_bytes()
        );
        let spread: Vec<u64> = (0..10_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let h = Members::from_unsorted(spread);
        assert!(matches!(h.repr, Repr::Plain(_)));
        assert_eq!(h.heap_bytes(), 10_000 * 8);
        let merged = Members::from_ascending(|| h.iter());
        assert!(matches!(merged.repr, Repr::Plain(_)));
        let merged = Members::from_ascending(|| m.iter());
        assert!(matches!(merged.repr, Repr::Split(_)));
        assert_eq!(merged.heap_bytes(), m.heap_bytes());
    }

    #[test]
    fn full_containers_become_bitmaps() {
        // Every number of one 65 536-wide block, and a sparse neighbour.
        let mut keys: Vec<u64> = (0..65_536u64).map(|i| (48_601u64 << 16) | i).collect();
        keys.push(48_602u64 << 16 | 5);
        let m = Members::from_unsorted(keys.clone());
        let Repr::Split(s) = &m.repr else {
            panic!("split expected")
        };
        assert_eq!(s.slots[0].1, BITMAP);
        assert_eq!(m.iter().collect::<Vec<_>>(), keys);
        assert!(!m.contains(48_602u64 << 16 | 6));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The compact forms answer exactly like a sorted array would.
        #[test]
        fn agrees_with_a_plain_set(
            base in 10_000_000u64..999_999_999_999_999,
            span in 5_000u64..600_000,
            raw in prop::collection::vec(0u64..600_000, 0..6000),
            probes in prop::collection::vec(0u64..600_000, 0..200),
        ) {
            // A small span packs thousands of keys into one container (a bitmap).
            let keys: Vec<u64> = raw.iter().map(|o| base.saturating_add(o % span)).collect();
            let m = Members::from_unsorted(keys.clone());
            let mut reference = keys;
            reference.sort_unstable();
            reference.dedup();
            prop_assert_eq!(m.len(), reference.len());
            prop_assert_eq!(m.iter().collect::<Vec<_>>(), reference.clone());
            for p in probes.iter().map(|o| base.saturating_add(*o)) {
                prop_assert_eq!(m.contains(p), reference.binary_search(&p).is_ok());
            }
            let ascending = Members::from_ascending(|| reference.iter().copied());
            prop_assert_eq!(ascending.len(), reference.len());
            prop_assert_eq!(ascending.iter().collect::<Vec<_>>(), reference.clone());
            let split = Members::from_sorted(reference.iter().copied());
            for p in probes.iter().map(|o| base.saturating_add(*o)) {
                prop_assert_eq!(split.contains(p), reference.binary_search(&p).is_ok());
            }
        }
    }
}
