//! The Merkle tree that lets one signature cover many answers while each answer still
//! verifies on its own: leaves are `SHA-256(0x00 ‖ claims)`, inner nodes
//! `SHA-256(0x01 ‖ left ‖ right)` (the prefixes keep a leaf from passing for a node), and
//! a level's last node without a partner moves up unchanged. An answer carries the
//! siblings on the way from its leaf to the root, each marked with its side: `L:<base64>`
//! (the sibling is on the left) or `R:<base64>`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf(claims: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(claims);
    h.finalize().into()
}

pub fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Every level of the tree over `leaves`, from the leaves up to the root (the last level
/// has one node). `leaves` must not be empty.
pub fn levels(leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
    assert!(!leaves.is_empty(), "a tree needs a leaf");
    let mut levels = vec![leaves];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().expect("a level");
        let above = below
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node(l, r),
                [single] => *single,
                _ => unreachable!("chunks of two"),
            })
            .collect();
        levels.push(above);
    }
    levels
}

/// The path from leaf `index` to the root, as `L:`/`R:` + base64 siblings.
pub fn path(levels: &[Vec<Hash>], index: usize) -> Vec<String> {
    Path::new(levels, index)
        .steps()
        .map(|(step, len)| String::from_utf8(step[..len].to_vec()).expect("ASCII"))
        .collect()
}

/// Length of a step: side, colon, 32 bytes in base64 (44 characters with padding).
const STEP: usize = 46;

/// The path from a leaf to the root, serialized as a list of `L:`/`R:` + base64 steps
/// without allocating.
pub struct Path<'a> {
    levels: &'a [Vec<Hash>],
    index: usize,
}

impl<'a> Path<'a> {
    pub fn new(levels: &'a [Vec<Hash>], index: usize) -> Self {
        Path { levels, index }
    }

    fn steps(&self) -> impl Iterator<Item = ([u8; STEP], usize)> + '_ {
        let mut index = self.index;
        self.levels[..self.levels.len() - 1]
            .iter()
            .filter_map(move |level| {
                let sibling = index ^ 1;
                let left = sibling < index;
                index /= 2;
                level.get(sibling).map(|h| {
                    let mut step = [0u8; STEP];
                    step[0] = if left { b'L' } else { b'R' };
                    step[1] = b':';
                    let n = BASE64
                        .encode_slice(h, &mut step[2..])
                        .expect("32 bytes fit in 44 characters");
                    (step, 2 + n)
                })
            })
    }
}

impl serde::Serialize for Path<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for (step, len) in self.steps() {
            seq.serialize_element(std::str::from_utf8(&step[..len]).expect("ASCII"))?;
        }
        seq.end()
    }
}

/// The root that `claims` and `path` lead to; `None` if a step is malformed.
pub fn root_of(claims: &[u8], path: &[String]) -> Option<Hash> {
    let mut h = leaf(claims);
    for step in path {
        let (side, sibling) = step.split_at_checked(2)?;
        let sibling: Hash = BASE64.decode(sibling).ok()?.try_into().ok()?;
        h = match side {
            "L:" => node(&sibling, &h),
            "R:" => node(&h, &sibling),
            _ => return None,
        };
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_leads_to_the_root_for_every_size() {
        for n in 1..=40usize {
            let claims: Vec<Vec<u8>> = (0..n).map(|i| format!("claims {i}").into_bytes()).collect();
            let levels = levels(claims.iter().map(|c| leaf(c)).collect());
            let root = levels.last().unwrap()[0];
            for (i, c) in claims.iter().enumerate() {
                let p = path(&levels, i);
                assert!(p.len() <= (usize::BITS - n.leading_zeros()) as usize);
                assert_eq!(root_of(c, &p), Some(root), "leaf {i} of {n}");
                // Another leaf's claims on this path lead elsewhere.
                if n > 1 {
                    let other = &claims[(i + 1) % n];
                    assert_ne!(root_of(other, &p), Some(root), "leaf {i} of {n}");
                }
            }
        }
    }

    #[test]
    fn a_single_answer_is_its_own_root() {
        let levels = levels(vec![leaf(b"x")]);
        assert!(path(&levels, 0).is_empty());
        assert_eq!(root_of(b"x", &[]), Some(leaf(b"x")));
    }

    #[test]
    fn malformed_steps_lead_nowhere() {
        let h = BASE64.encode(leaf(b"y"));
        assert_eq!(root_of(b"x", &[format!("X:{h}")]), None);
        assert_eq!(root_of(b"x", &[format!("L:{}", &h[4..])]), None);
        assert_eq!(root_of(b"x", &["L:".to_string()]), None);
        assert!(root_of(b"x", &[format!("L:{h}")]).is_some());
    }
}
