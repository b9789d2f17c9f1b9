//! Prefix entries of the do-not-call list (range blocks), found for a number with one
//! probe per prefix length that has entries: a number has at most 15 prefixes, and the
//! lengths in use are kept as a bit set, so a list of 100 000 prefixes of a handful of
//! lengths costs a handful of hash probes per check, and none when there are no prefix
//! entries.

use std::collections::HashMap;

use super::DncBlock;
use crate::domain::{PhoneNumber, Prefix};

const POW10: [u64; 16] = {
    let mut p = [1u64; 16];
    let mut i = 1;
    while i < 16 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// The blocks of every prefix with an active entry, by the prefix's digits (country
/// codes never start with 0, so the digits' value says how many there are).
#[derive(Debug, Default, Clone)]
pub struct PrefixBlocks {
    map: HashMap<u64, Vec<DncBlock>>,
    /// Bit k set: some prefix of k digits has entries.
    lengths: u16,
}

impl PrefixBlocks {
    pub fn new(map: HashMap<u64, Vec<DncBlock>>) -> PrefixBlocks {
        let lengths = map
            .keys()
            .filter_map(|&d| Prefix::from_digits(d))
            .fold(0u16, |set, p| set | 1 << p.digit_count());
        PrefixBlocks { map, lengths }
    }

    pub fn map(&self) -> &HashMap<u64, Vec<DncBlock>> {
        &self.map
    }

    /// Prefixes with at least one active entry.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every prefix of `number` that has entries, shortest first, with its blocks.
    pub fn matching(
        &self,
        number: PhoneNumber,
    ) -> impl Iterator<Item = (Prefix, &[DncBlock])> + '_ {
        let n = number.digits();
        let len = n.checked_ilog10().map_or(1, |l| l + 1);
        // Bits 1..=len of the lengths in use.
        let mut todo = self.lengths & (((1u32 << (len + 1)) - 2) as u16);
        std::iter::from_fn(move || {
            while todo != 0 {
                let k = todo.trailing_zeros();
                todo &= todo - 1;
                let digits = n / POW10[(len - k) as usize];
                if let Some(blocks) = self.map.get(&digits) {
                    let prefix = Prefix::from_digits(digits).expect("1 to 15 digits");
                    return Some((prefix, blocks.as_slice()));
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Region, Scope};

    fn block(id: i64) -> DncBlock {
        DncBlock {
            id,
            scope: Scope::Global,
            reason: None,
            expires_at: None,
        }
    }

    #[test]
    fn every_loaded_prefix_of_a_number_is_found_and_no_other() {
        let map = HashMap::from([
            (48, vec![block(1)]),
            (4870, vec![block(2), block(3)]),
            (48701234567, vec![block(4)]),
            (4871, vec![block(5)]),
            (44, vec![block(6)]),
            (487, vec![block(7)]),
        ]);
        let blocks = PrefixBlocks::new(map);
        assert_eq!(blocks.lengths, 1 << 2 | 1 << 3 | 1 << 4 | 1 << 11);
        let n = PhoneNumber::parse("+48 701 234 567", Region::PL).unwrap();
        let found: Vec<(u64, Vec<i64>)> = blocks
            .matching(n)
            .map(|(p, b)| (p.digits(), b.iter().map(|b| b.id).collect()))
            .collect();
        assert_eq!(
            found,
            vec![
                (48, vec![1]),
                (487, vec![7]),
                (4870, vec![2, 3]),
                (48701234567, vec![4]),
            ]
        );
        let other = PhoneNumber::parse("+44 20 7946 0958", Region::PL).unwrap();
        assert_eq!(blocks.matching(other).count(), 1);
        assert_eq!(PrefixBlocks::default().matching(n).count(), 0);
    }

    #[test]
    fn a_prefix_longer_than_the_number_is_not_probed() {
        // +290 numbers have 8 digits; a 9-digit prefix cannot cover them.
        let map = HashMap::from([(290228411, vec![block(1)]), (2902284, vec![block(2)])]);
        let blocks = PrefixBlocks::new(map);
        let n = PhoneNumber::from_digits(29022841).unwrap();
        let ids: Vec<i64> = blocks
            .matching(n)
            .flat_map(|(_, b)| b)
            .map(|b| b.id)
            .collect();
        assert_eq!(ids, vec![2]);
    }
}
