//! The members of one registry: a set of 64-bit keys (E.164 numbers as integers, or the
//! first 8 bytes of a hash) held compactly and answered without allocation.
//!
//! Phone numbers are dense in their national ranges, so plain registries are stored the
//! way roaring bitmaps store 32-bit sets: keys are split into a high part (`key >> 16`)
//! and a 16-bit low part. Each high part present gets a container, in whichever encoding
//! is smallest for its member count: a sorted array of `u16` lows (2 bytes a member, for
//! a few dozen members or fewer), an Elias–Fano container (about `l + 2` bits a member
//! for `2^l` lows per member: under a byte where numbers fill 3–10% of a range, as 10M
//! Polish mobile numbers do), or an 8 KiB bitmap (past about a fifth of the range). A
//! registry whose Elias–Fano containers would pass 64 MiB, far larger than the caches,
//! takes arrays and bitmaps only: there a lookup waits for memory, once for an array's
//! guessed window but three times in turn for an Elias–Fano container.
//! Keys spread thinly over the 64-bit space (hashes) would pay a container per member, so
//! such sets stay a plain sorted `u64` array (8 bytes a member): the builder picks
//! whichever is smaller.

mod elias_fano;
mod memory;
#[cfg(test)]
mod reference;
mod split;

pub use memory::return_free_memory;
use split::{count_containers, Encoding, Split, SplitBuilder, SplitIter, ARRAYS_AND_BITMAPS};

/// Every container encoding: a set takes the smallest for each container.
const ALL: &[Encoding] = &[Encoding::Array, Encoding::Bitmap, Encoding::EliasFano];

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
    /// Split into 16-bit containers (see `split`).
    Split(Split),
}

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
        Members::split_from(keys, ALL)
    }

    /// [`Members::from_sorted`] in the layout used before Elias–Fano containers (arrays
    /// and bitmaps only), for the lookup benchmark (bench/lookup_speed.rs) to compare
    /// with in the same run.
    #[doc(hidden)]
    pub fn from_sorted_roaring(keys: impl IntoIterator<Item = u64>) -> Members {
        Members::split_from(keys, ARRAYS_AND_BITMAPS)
    }

    fn split_from(keys: impl IntoIterator<Item = u64>, allowed: &'static [Encoding]) -> Members {
        let mut b = SplitBuilder::new(allowed);
        for key in keys {
            b.push(key);
        }
        let (len, split) = b.finish();
        Members {
            len,
            repr: Repr::Split(split),
        }
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
            Repr::Split(split) => Iter::Split(split.iter()),
        }
    }

    /// Bytes of heap this set holds (for the memory figures of the benchmark).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Plain(keys) => keys.len() * 8,
            Repr::Split(s) => s.heap_bytes(),
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

    /// What replacing `self` by `newer` changes: the keys `newer` adds and the keys it
    /// removes, each ascending (for the registry's history, which stores churn only).
    pub fn changes_to(&self, newer: &Members) -> Changes {
        let mut changes = Changes::default();
        let mut old = self.iter().peekable();
        let mut new = newer.iter().peekable();
        loop {
            match (old.peek().copied(), new.peek().copied()) {
                (Some(a), Some(b)) if a == b => {
                    old.next();
                    new.next();
                }
                (Some(a), Some(b)) if a < b => {
                    changes.removed.push(a);
                    old.next();
                }
                (_, Some(b)) => {
                    changes.added.push(b);
                    new.next();
                }
                (Some(a), None) => {
                    changes.removed.push(a);
                    old.next();
                }
                (None, None) => return changes,
            }
        }
    }
}

/// Keys added and removed by a new generation of members, each ascending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<u64>,
    pub removed: Vec<u64>,
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
        assert_eq!(s.encodings(), [Encoding::Bitmap, Encoding::Array]);
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

        /// The changes from one set to another are exactly the two set differences.
        #[test]
        fn changes_are_the_two_differences(
            old in prop::collection::vec(0u64..3000, 0..400),
            new in prop::collection::vec(0u64..3000, 0..400),
            hashed in any::<bool>(),
        ) {
            // Hash keys spread over all 64 bits (the plain form), numbers stay dense.
            let spread = |k: u64| if hashed { k.wrapping_mul(0x9e37_79b9_7f4a_7c15) } else { k };
            let old: std::collections::BTreeSet<u64> = old.into_iter().map(spread).collect();
            let new: std::collections::BTreeSet<u64> = new.into_iter().map(spread).collect();
            let before = Members::from_unsorted(old.iter().copied().collect());
            let after = Members::from_unsorted(new.iter().copied().collect());
            let changes = before.changes_to(&after);
            prop_assert_eq!(changes.added, new.difference(&old).copied().collect::<Vec<_>>());
            prop_assert_eq!(changes.removed, old.difference(&new).copied().collect::<Vec<_>>());
        }
    }
}
