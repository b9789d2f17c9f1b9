//! Prefix entries of the do-not-call list (range blocks), found for a number with one
//! probe per prefix length that has entries: a number has at most 15 prefixes, and the
//! lengths in use are kept as a bit set, so a list of 100 000 prefixes of a handful of
//! lengths costs a handful of hash probes per check, and none when there are no prefix
//! entries. The probes hash with a folded multiply keyed per process ([`DigitsState`])
//! rather than SipHash, which costs more than the probe's memory read here.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;

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

/// The blocks of prefixes by their digits.
pub type PrefixMap = HashMap<u64, Vec<DncBlock>, DigitsState>;

/// Builds [`DigitsHasher`]s with this process's key.
#[derive(Clone, Copy, Debug)]
pub struct DigitsState(u64);

impl Default for DigitsState {
    fn default() -> Self {
        // Keyed per process, so colliding prefixes cannot be chosen in advance to slow
        // checks down; a failed random source leaves a fixed key, which is only slower
        // under such an attack, never wrong.
        static KEY: LazyLock<u64> = LazyLock::new(|| {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes)
                .map_or(0x243f_6a88_85a3_08d3, |()| u64::from_ne_bytes(bytes))
        });
        DigitsState(*KEY)
    }
}

impl BuildHasher for DigitsState {
    type Hasher = DigitsHasher;

    fn build_hasher(&self) -> DigitsHasher {
        DigitsHasher {
            key: self.0,
            hash: 0,
        }
    }
}

/// A 128-bit multiply of the key-mixed digits, folded to 64 bits: every input bit
/// reaches the low bits (the bucket) and the high ones (the tag).
#[derive(Clone, Copy, Debug)]
pub struct DigitsHasher {
    key: u64,
    hash: u64,
}

impl Hasher for DigitsHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word) ^ self.hash);
        }
    }

    fn write_u64(&mut self, n: u64) {
        let product = u128::from(n ^ self.key) * 0x9e37_79b9_7f4a_7c15_u128;
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The blocks of every prefix with an active entry, by the prefix's digits (country
/// codes never start with 0, so the digits' value says how many there are).
#[derive(Debug, Default, Clone)]
pub struct PrefixBlocks {
    map: PrefixMap,
    /// Bit k set: some prefix of k digits has entries.
    lengths: u16,
}

impl PrefixBlocks {
    pub fn new(map: PrefixMap) -> PrefixBlocks {
        let lengths = map
            .keys()
            .filter_map(|&d| Prefix::from_digits(d))
            .fold(0u16, |set, p| set | 1 << p.digit_count());
        PrefixBlocks { map, lengths }
    }

    pub fn map(&self) -> &PrefixMap {
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
        let map = PrefixMap::from_iter([
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
        let map = PrefixMap::from_iter([(290228411, vec![block(1)]), (2902284, vec![block(2)])]);
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
