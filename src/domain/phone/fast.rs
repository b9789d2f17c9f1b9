//! The Polish fast path: the commonest input by far skips the metadata's
//! regexes.

use std::sync::atomic::{AtomicU8, Ordering};

use phonenumber::metadata::DATABASE;

use super::scan::Scan;
use super::validity::national_full;
use super::{PhoneNumber, Region};

/// Validity of 9-digit Polish national numbers by their first five digits: 0 not yet
/// known, 1 valid, 2 invalid. Every pattern in the PL metadata is a prefix of at most
/// four digits followed by free digits (`(?:45|5[0137]|…)\d{7}`), so the answer the full
/// path gives for one number holds for its whole five-digit class.
static PL_VALIDITY: [AtomicU8; 100_000] = [const { AtomicU8::new(0) }; 100_000];

/// Fills [`PL_VALIDITY`] for every class up front (about 90 000 runs of the full path,
/// well under a second), so that the first sight of each class on the hot path does not
/// pay for the metadata's regexes. Run it off the request path, e.g. at start-up.
pub fn warm_up_fast_path() {
    let Some(meta) = DATABASE.by_id(Region::PL.as_ref()) else {
        return;
    };
    for (class, slot) in PL_VALIDITY.iter().enumerate().skip(10_000) {
        if slot.load(Ordering::Relaxed) == 0 {
            let digits = format!("{}", class as u64 * 10_000);
            let valid = national_full(meta, Region::PL, &digits).is_ok();
            slot.store(if valid { 1 } else { 2 }, Ordering::Relaxed);
        }
    }
}

/// The fast path for the commonest input by far — Polish numbers as `601234567`,
/// `+48 601 234 567`, `48601234567`, `0048601234567` — which skips the metadata's
/// regexes. It only ever answers with what the full path answers (a test compares the
/// two over a large generated set); anything else, and every error, takes the full path.
pub(super) fn fast_polish(scan: &Scan, region: Region) -> Option<PhoneNumber> {
    if scan.context_len > 0 {
        return None;
    }
    let d = &scan.digits[..scan.len];
    let national = if scan.plus {
        d.strip_prefix(b"48")?
    } else if region == Region::PL {
        match d.len() {
            9 => d,
            11 => d.strip_prefix(b"48")?,
            13 => d.strip_prefix(b"0048")?,
            _ => return None,
        }
    } else {
        return None;
    };
    if national.len() != 9 || national[0] == b'0' {
        return None;
    }
    let value = national
        .iter()
        .fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
    let class = &PL_VALIDITY[(value / 10_000) as usize];
    let valid = match class.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let meta = DATABASE.by_id(Region::PL.as_ref())?;
            let digits = std::str::from_utf8(national).ok()?;
            let valid = national_full(meta, Region::PL, digits).is_ok();
            class.store(if valid { 1 } else { 2 }, Ordering::Relaxed);
            valid
        }
    };
    valid.then_some(PhoneNumber(48_000_000_000 + value))
}

#[cfg(test)]
mod tests {
    use super::super::parse_with;
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_full_normalizer() {
        // Random 9-digit Polish numbers — valid and invalid, every five-digit class
        // several times over — in the spellings the fast path takes and some it leaves,
        // with the classes filled the way start-up fills them.
        warm_up_fast_path();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..150_000u64 {
            let d = 100_000_000 + next() % 900_000_000;
            let s = d.to_string();
            let (a, b, c) = (&s[..3], &s[3..6], &s[6..]);
            let spelled = match i % 9 {
                0 => s.clone(),
                1 => format!("+48{s}"),
                2 => format!("+48 {a} {b} {c}"),
                3 => format!("0048{s}"),
                4 => format!("48{s}"),
                5 => format!("{a}-{b}-{c}"),
                6 => format!("tel:+48-{a}-{b}-{c}"),
                7 => format!("(+48) {s} wew. 12"),
                _ => format!("0{s}"),
            };
            for region in [Region::PL, Region::DE] {
                assert_eq!(
                    parse_with(&spelled, region, true),
                    parse_with(&spelled, region, false),
                    "{spelled} in {region:?}"
                );
            }
        }
    }
}
