//! The Merkle tree that lets one signature cover many answers while each answer still
//! verifies on its own: leaves are `SHA-256(0x00 ‖ claims)`, inner nodes
//! `SHA-256(0x01 ‖ left ‖ right)` (the prefixes keep a leaf from passing for a node), and
//! a level's last node without a partner moves up unchanged. An answer carries the
//! siblings on the way from its leaf to the root, each marked with its side: `L:<hex>`
//! (the sibling is on the left) or `R:<hex>`.

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

/// The path from leaf `index` to the root, as `L:`/`R:` + hex siblings.
pub fn path(levels: &[Vec<Hash>], mut index: usize) -> Vec<String> {
    let mut out = Vec::new();
    for level in &levels[..levels.len() - 1] {
        let sibling = index ^ 1;
        if let Some(h) = level.get(sibling) {
            let side = if sibling < index { "L:" } else { "R:" };
            out.push(format!("{side}{}", crate::domain::hash::hex(h)));
        }
        index /= 2;
    }
    out
}

/// The root that `claims` and `path` lead to; `None` if a step is malformed.
pub fn root_of(claims: &[u8], path: &[String]) -> Option<Hash> {
    let mut h = leaf(claims);
    for step in path {
        let (side, hex) = step.split_at_checked(2)?;
        let sibling = decode_hex(hex)?;
        h = match side {
            "L:" => node(&sibling, &h),
            "R:" => node(&h, &sibling),
            _ => return None,
        };
    }
    Some(h)
}

fn decode_hex(hex: &str) -> Option<Hash> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
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
        let h = crate::domain::hash::hex(&leaf(b"y"));
        assert_eq!(root_of(b"x", &[format!("X:{h}")]), None);
        assert_eq!(root_of(b"x", &[format!("L:{}", &h[1..])]), None);
        assert_eq!(root_of(b"x", &["L:".to_string()]), None);
        assert!(root_of(b"x", &[format!("L:{h}")]).is_some());
    }
}
