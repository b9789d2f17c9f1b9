//! The members of one registry: a set of E.164 numbers held as sorted integers.

/// An immutable set of numbers (E.164 digits as integers), sorted and free of duplicates,
/// answered by binary search.
#[derive(Debug, Default)]
pub struct Members {
    sorted: Box<[u64]>,
}

impl Members {
    /// Builds the set from numbers in any order, with duplicates.
    pub fn from_unsorted(mut numbers: Vec<u64>) -> Members {
        numbers.sort_unstable();
        numbers.dedup();
        Members {
            sorted: numbers.into_boxed_slice(),
        }
    }

    pub fn contains(&self, number: u64) -> bool {
        self.sorted.binary_search(&number).is_ok()
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.sorted.iter().copied()
    }

    /// How many members of `self` are not in `newer`: what replacing `self` by `newer`
    /// would remove.
    pub fn count_missing_from(&self, newer: &Members) -> usize {
        let (mut i, mut j, mut missing) = (0, 0, 0);
        let (a, b) = (&self.sorted, &newer.sorted);
        while i < a.len() {
            if j == b.len() || a[i] < b[j] {
                missing += 1;
                i += 1;
            } else if a[i] == b[j] {
                i += 1;
                j += 1;
            } else {
                j += 1;
            }
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_collapse_and_lookups_hit() {
        let m = Members::from_unsorted(vec![48601234567, 48501234567, 48601234567]);
        assert_eq!(m.len(), 2);
        assert!(m.contains(48601234567));
        assert!(!m.contains(48601234568));
    }

    #[test]
    fn missing_counts_what_a_replacement_removes() {
        let old = Members::from_unsorted(vec![1, 2, 3, 4, 5]);
        let new = Members::from_unsorted(vec![2, 4, 6, 7]);
        assert_eq!(old.count_missing_from(&new), 3);
        assert_eq!(new.count_missing_from(&old), 2);
        assert_eq!(old.count_missing_from(&Members::default()), 5);
    }
}
