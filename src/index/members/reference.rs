//! The split form against `BTreeSet`, on seeded random sets whose containers range from
//! one member to full, so that each encoding is chosen and each is also forced where it
//! would not be. A member reported missing would be a number reported callable.

use std::collections::BTreeSet;

use super::split::Encoding;
use super::split::SplitBuilder;
use super::{Members, Repr, ALL};

/// xorshift64*, seeded: the same sets at every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// One to five containers near `base`, some highs skipped, each with a member count
/// picked from a class: one, a few, array-sized, Elias–Fano-sized, bitmap-sized, full.
fn random_set(rng: &mut Rng, base: u64) -> BTreeSet<u64> {
    let mut set = BTreeSet::new();
    let mut high = base >> 16;
    for _ in 0..=rng.below(5) {
        high += 1 + rng.below(3);
        let lows: Vec<u64> = match rng.below(6) {
            0 => vec![[0, u16::MAX.into(), rng.below(65_536)][rng.below(3) as usize]],
            1 => (0..2 + rng.below(20)).map(|_| rng.below(65_536)).collect(),
            5 => (0..65_536).collect(),
            class => {
                // Each low with probability 1/8 (EF), 1/3 (bitmap) or 1/250 (array).
                let one_in = [250, 8, 3][class as usize - 2];
                (0..65_536).filter(|_| rng.below(one_in) == 0).collect()
            }
        };
        set.extend(lows.into_iter().map(|low| high << 16 | low));
    }
    set
}

fn encodings(m: &Members) -> Vec<Encoding> {
    match &m.repr {
        Repr::Split(s) => s.encodings(),
        Repr::Plain(_) => panic!("numbers take the split form"),
    }
}

/// `m` holds exactly `set`: in order, every member found, neighbours and random lows of
/// its containers and the highs between them answered as the set answers.
fn assert_same(m: &Members, set: &BTreeSet<u64>, rng: &mut Rng) {
    assert_eq!(m.len(), set.len());
    assert!(m.iter().eq(set.iter().copied()), "iteration differs");
    for &key in set {
        assert!(m.contains(key), "member {key:#x} reported missing");
    }
    let (first, last) = match (set.first(), set.last()) {
        (Some(&f), Some(&l)) => (f & !0xFFFF, l | 0xFFFF),
        _ => (0, 1 << 20),
    };
    let neighbours = set.iter().flat_map(|&k| [k.wrapping_sub(1), k + 1]);
    let random = (0..20_000).map(|_| first + rng.below(last - first + 1));
    for key in neighbours.chain(random) {
        assert_eq!(m.contains(key), set.contains(&key), "{key:#x}");
    }
}

#[test]
fn split_sets_answer_like_a_btreeset_in_every_encoding() {
    let mut rng = Rng(0x5EED_0016);
    let mut chosen = BTreeSet::new();
    let mut previous = BTreeSet::new();
    for round in 0..12 {
        let base = 48_600_000_000 + (round << 20);
        let set = random_set(&mut rng, base);
        let m = Members::from_sorted(set.iter().copied());
        chosen.extend(encodings(&m).iter().map(|&e| e as u8));
        assert_same(&m, &set, &mut rng);
        // The smallest encoding per container: never larger than arrays and bitmaps.
        let roaring = Members::from_sorted_roaring(set.iter().copied());
        assert!(m.heap_bytes() <= roaring.heap_bytes());
        assert_same(&roaring, &set, &mut rng);
        for only in ALL.chunks(1) {
            let forced = Members::split_from(set.iter().copied(), only);
            assert!(encodings(&forced).iter().all(|e| only.contains(e)));
            assert_same(&forced, &set, &mut rng);
        }
        // Generation diffs between the sets of consecutive rounds.
        let before = Members::split_from(previous.iter().copied(), ALL);
        let changes = before.changes_to(&m);
        assert!(changes.added.iter().eq(set.difference(&previous)));
        assert!(changes.removed.iter().eq(previous.difference(&set)));
        assert_eq!(
            before.count_missing_from(&m),
            previous.difference(&set).count()
        );
        previous = set;
    }
    assert_eq!(chosen.len(), 3, "each encoding chosen somewhere");
}

#[test]
fn the_empty_set_holds_nothing() {
    let m = Members::from_sorted(std::iter::empty());
    assert_same(&m, &BTreeSet::new(), &mut Rng(1));
    assert_eq!(m.iter().next(), None);
}

/// 10M Polish mobile numbers fill about 8% of their ranges (bench/data.rs): there,
/// arrays and bitmaps took 1.62 bytes a number, Elias–Fano containers take under one.
#[test]
fn numbers_filling_8_percent_of_their_range_take_under_a_byte_each() {
    let mut rng = Rng(7);
    // 152 whole containers of the +4860 range.
    let first = (48_600_000_000 >> 16) << 16;
    let set: BTreeSet<u64> = (0..800_000).map(|_| first + rng.below(152 << 16)).collect();
    let m = Members::from_unsorted(set.iter().copied().collect());
    let per_member = m.heap_bytes() as f64 / m.len() as f64;
    assert!(per_member < 1.0, "{per_member:.3} bytes a member");
    assert!(encodings(&m).iter().all(|&e| e == Encoding::EliasFano));
    assert_same(&m, &set, &mut rng);
}

/// A registry whose Elias–Fano containers would outgrow the caches takes arrays and
/// bitmaps, the containers written before it did rebuilt so, and answers as the set does.
#[test]
fn a_registry_larger_than_the_caches_takes_arrays_and_bitmaps() {
    let mut rng = Rng(11);
    // About 3 000 numbers in each of 40 containers: 2.6 KiB each in Elias–Fano, 6 KiB
    // as arrays.
    let first = (48_600_000_000 >> 16) << 16;
    let set: BTreeSet<u64> = (0..120_000).map(|_| first + rng.below(40 << 16)).collect();
    let build = |limit| {
        let mut b = SplitBuilder::with_limit(ALL, limit);
        for &key in &set {
            b.push(key);
        }
        let (len, split) = b.finish();
        Members {
            len,
            repr: Repr::Split(split),
        }
    };
    let fits = build(usize::MAX);
    assert!(encodings(&fits).iter().all(|&e| e == Encoding::EliasFano));
    assert_same(&fits, &set, &mut rng);
    // Past ten containers' worth.
    let large = build(fits.heap_bytes() / 4);
    assert!(encodings(&large).iter().all(|&e| e == Encoding::Array));
    assert!(large.heap_bytes() > 2 * fits.heap_bytes());
    assert_same(&large, &set, &mut rng);
}
