//! The Merkle tree that lets one signature cover many answers while each answer still
//! verifies on its own: leaves are `SHA-256(0x00 ‖ claims)`, or for a batch answer
//! `SHA-256(0x02 ‖ BLAKE3(answer))` ([`Leaf::Blake3`]), inner nodes
//! `SHA-256(0x01 ‖ left ‖ right)` (the prefixes keep a leaf from passing for a node or for
//! a leaf of the other kind), and a level's last node without a partner moves up
//! unchanged. A leaf is an answer's own bytes without its receipt (format 2), or the
//! claims string of a format-1 receipt. An answer carries the siblings on the way from its
//! leaf to the root, each with its side: in format 2 one base64 string of 33-byte steps
//! (a side byte, 0 when the sibling is on the left, 1 on the right, then the sibling); in
//! format 1 a list of `L:<base64>` / `R:<base64>` steps.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// How an answer's bytes become its leaf: `sha256` (the default, which a receipt does not
/// name) or `blake3` (a batch answer's receipt says `"leaf":"blake3"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Leaf {
    /// `SHA-256(0x00 ‖ answer)`: a `GET /v1/check` answer (a few hundred bytes), which
    /// `sha256sum` or `openssl` alone recompute.
    #[default]
    Sha256,
    /// `SHA-256(0x02 ‖ BLAKE3(answer))`: a batch answer (up to a few MB), whose bytes
    /// BLAKE3 hashes about five times as fast as SHA-256 here (README "Decision receipts").
    Blake3,
}

impl Leaf {
    /// The leaf of `answer`'s bytes.
    pub fn of(self, answer: &[u8]) -> Hash {
        match self {
            Leaf::Sha256 => leaf(answer),
            Leaf::Blake3 => {
                let mut h = Sha256::new();
                h.update([2u8]);
                h.update(blake3::hash(answer).as_bytes());
                h.finalize().into()
            }
        }
    }

    /// Whether this is the default, which a receipt leaves out.
    pub fn is_sha256(&self) -> bool {
        *self == Leaf::Sha256
    }
}

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

/// The siblings on the way from leaf `index` to the root, each with its side (`true`:
/// the sibling is on the left).
fn siblings(levels: &[Vec<Hash>], index: usize) -> impl Iterator<Item = (bool, &Hash)> {
    let mut index = index;
    levels[..levels.len() - 1].iter().filter_map(move |level| {
        let sibling = index ^ 1;
        let left = sibling < index;
        index /= 2;
        level.get(sibling).map(|h| (left, h))
    })
}

/// Bytes of one step of a format-2 path: the side, then the sibling.
const STEP: usize = 33;
/// Format 2: the side byte of a sibling on the left (on the right: [`RIGHT`]).
pub const LEFT: u8 = 0;
pub const RIGHT: u8 = 1;

/// The format-2 path from leaf `index` to the root, appended to `out` as one base64
/// string: each step a side byte ([`LEFT`]/[`RIGHT`]) and the 32-byte sibling.
pub fn write_packed(levels: &[Vec<Hash>], index: usize, out: &mut String) {
    let mut raw = [0u8; STEP * usize::BITS as usize];
    let mut n = 0;
    for (left, h) in siblings(levels, index) {
        raw[n] = if left { LEFT } else { RIGHT };
        raw[n + 1..n + STEP].copy_from_slice(h);
        n += STEP;
    }
    BASE64.encode_string(&raw[..n], out);
}

/// The root that the leaf `leaf` and a format-2 `path` lead to; `None` if the path is
/// not base64 of whole steps with a known side.
pub fn root_of_packed(leaf: Hash, path: &str) -> Option<Hash> {
    let raw = BASE64.decode(path).ok()?;
    if !raw.len().is_multiple_of(STEP) {
        return None;
    }
    raw.chunks(STEP).try_fold(leaf, |h, step| {
        let sibling: &Hash = step[1..].try_into().ok()?;
        match step[0] {
            LEFT => Some(node(sibling, &h)),
            RIGHT => Some(node(&h, sibling)),
            _ => None,
        }
    })
}

/// The format-1 path from leaf `index` to the root, as `L:`/`R:` + base64 siblings (only
/// receipts issued before format 2 carry these; kept to test their verification).
#[cfg(test)]
pub fn path(levels: &[Vec<Hash>], index: usize) -> Vec<String> {
    siblings(levels, index)
        .map(|(left, h)| format!("{}:{}", if left { 'L' } else { 'R' }, BASE64.encode(h)))
        .collect()
}

/// The root that format-1 `claims` and `path` lead to; `None` if a step is malformed.
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
    fn a_batch_leaf_is_sha256_over_the_blake3_of_the_bytes_and_never_a_plain_leaf() {
        // BLAKE3("") is the published test vector af1349b9…3262; the leaf of "" is
        // SHA-256(0x02 ‖ it), computed with Python's hashlib.
        let hex = |h: Hash| crate::domain::hash::hex(&h);
        assert_eq!(
            hex(Leaf::Blake3.of(b"")),
            "cad11ff4744f88f5d6eddf60c1f3f3e679dff72b44ab354c45baad7caaabc059"
        );
        assert_eq!(
            hex(Leaf::Sha256.of(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let answer = br#"{"results":[],"snapshot_version":1}"#;
        assert_ne!(Leaf::Blake3.of(answer), Leaf::Sha256.of(answer));
        assert_ne!(Leaf::Blake3.of(answer), Leaf::Blake3.of(b"{}"));
    }

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
    fn every_leaf_leads_to_the_root_by_its_packed_path() {
        for n in 1..=40usize {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf(format!("{i}").as_bytes())).collect();
            let levels = levels(leaves.clone());
            let root = levels.last().unwrap()[0];
            for (i, l) in leaves.iter().enumerate() {
                let mut p = String::new();
                write_packed(&levels, i, &mut p);
                assert_eq!(root_of_packed(*l, &p), Some(root), "leaf {i} of {n}");
                if n > 1 {
                    let other = leaves[(i + 1) % n];
                    assert_ne!(root_of_packed(other, &p), Some(root), "leaf {i} of {n}");
                }
            }
        }
        let mut bad = String::new();
        BASE64.encode_string([2u8; STEP], &mut bad);
        assert_eq!(root_of_packed(leaf(b"x"), &bad), None, "side byte 2");
        assert_eq!(root_of_packed(leaf(b"x"), &bad[..40]), None, "a cut step");
        assert_eq!(root_of_packed(leaf(b"x"), ""), Some(leaf(b"x")));
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
