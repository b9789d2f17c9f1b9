//! Phone numbers in canonical E.164 form.
//!
//! [`PhoneNumber::parse`] accepts the spellings that registry exports and
//! agents produce (spaces of any kind, dashes, dots, parentheses, `+`/`00`
//! prefixes, `tel:` URIs, full-width and other Unicode decimal digits,
//! extensions) and turns them into one canonical value, so that two spellings
//! of one number always compare equal. Validity is decided by the
//! `phonenumber` crate's metadata, read the way Google's libphonenumber reads
//! it (`reference_tests` compares the two over a generated corpus).
//!
//! Pre-normalisation is our own (one pass over the characters, no
//! allocation), and so is the reading of the digits: of `phonenumber` 0.3 we
//! use the metadata, not the parser, because the parser maps vanity letters
//! to digits, silently drops unknown characters, strips a leading country
//! code from numbers that are already valid national numbers (it reads the
//! Radom number `48 301 23 45` as `+48 3012345`), strips a national prefix
//! even when that leaves no number (`+7 800 …`), and its validity check
//! matches patterns only at the start of a number (`300094417`).
//!
//! One file per idea: this one holds the type and the order of the steps;
//! `scan` is the pre-normaliser, `validity` reads the digits by the metadata
//! (prefixes, country codes), `rules` is that metadata compiled for exact
//! matching, `fast` is the Polish fast path, `prefix` reads the prefixes of
//! range blocks.

mod fast;
mod prefix;
mod rules;
mod scan;
mod validity;

use std::fmt;

use phonenumber::metadata::DATABASE;

pub use fast::warm_up_fast_path;
pub use phonenumber::country::Id as Region;
pub use prefix::{Prefix, PrefixError, Target};

use fast::fast_polish;
use scan::{too_long, Problem, Scan};
use validity::resolve;

/// How much of the input an error message quotes.
const QUOTE_CHARS: usize = 64;
/// Fewer digits than this is not a phone number at all.
const MIN_DIGITS: usize = 3;
/// Digit count of an E.164 number (country code included).
const MIN_E164_DIGITS: u32 = 7;
const MAX_E164_DIGITS: u32 = 15;

/// A valid phone number in canonical E.164 form. Once built it is canonical.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PhoneNumber(u64);

/// Why an input is not an acceptable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NumberError {
    /// The offending input, truncated to 64 chars (with `…`) when longer.
    pub input: String,
    pub kind: NumberErrorKind,
    /// Human-readable message naming the (quoted, truncated) input and the
    /// problem.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberErrorKind {
    /// Empty or whitespace only.
    Empty,
    /// Over 256 chars, or over 64 chars with more than 20 digits.
    TooLong,
    /// A letter (other than an extension marker or the `tel:` scheme), a
    /// misplaced `+`, or any other character that has no place in a number.
    InvalidCharacter,
    /// Two or more numbers in one field.
    MultipleNumbers,
    /// Fewer than three digits.
    NotANumber,
    /// Digits that do not form a valid number (for the default region, or
    /// for the country code given).
    InvalidForRegion,
}

impl NumberError {
    fn new(input: &str, kind: NumberErrorKind, detail: &str) -> Self {
        let input = truncate(input);
        let message = match kind {
            NumberErrorKind::Empty => format!("{input:?} is empty: expected a phone number"),
            NumberErrorKind::TooLong => format!("{input:?} is too long to be a phone number"),
            NumberErrorKind::MultipleNumbers => format!("{input:?} contains more than one number"),
            NumberErrorKind::NotANumber => format!("{input:?} is not a phone number: {detail}"),
            NumberErrorKind::InvalidCharacter | NumberErrorKind::InvalidForRegion => {
                format!("{input:?} is not a valid phone number: {detail}")
            }
        };
        NumberError {
            input,
            kind,
            message,
        }
    }
}

/// The first [`QUOTE_CHARS`] chars of `input`, with `…` when cut.
fn truncate(input: &str) -> String {
    match input.char_indices().nth(QUOTE_CHARS) {
        None => input.to_owned(),
        Some((cut, _)) => format!("{}…", &input[..cut]),
    }
}

impl PhoneNumber {
    /// Parses `input` as typed by a person or exported by a registry.
    /// Numbers without an international prefix are read in `default_region`.
    pub fn parse(input: &str, default_region: Region) -> Result<PhoneNumber, NumberError> {
        parse_with(input, default_region, true)
    }

    /// Rebuilds a number read back from storage. Only checks that `digits`
    /// has 7 to 15 digits; it does not validate the number.
    pub fn from_digits(digits: u64) -> Option<PhoneNumber> {
        (MIN_E164_DIGITS..=MAX_E164_DIGITS)
            .contains(&digit_count(digits))
            .then_some(PhoneNumber(digits))
    }

    /// The E.164 digits, country code included: `48601234567`.
    pub fn digits(self) -> u64 {
        self.0
    }

    /// `+48601234567`.
    pub fn e164(self) -> String {
        self.to_string()
    }

    /// The country calling code: `48`. Country codes are prefix-free, so the
    /// 1-, 2- or 3-digit prefix known to the metadata is the one. Returns 0
    /// for a stored value whose prefix is no known country code.
    pub fn country_code(self) -> u16 {
        self.split().0
    }

    /// The national significant number: `601234567`. Leading zeros that are
    /// part of it (Italy) are kept.
    pub fn national(self) -> String {
        let (_, len) = self.split();
        let nsn = self.0 % 10u64.pow(len);
        format!("{nsn:0width$}", width = len as usize)
    }

    /// For logs: `+48601***567`. Keeps the country code, the first three and
    /// the last three national digits; national numbers shorter than seven
    /// digits keep only their last two digits.
    pub fn masked(self) -> String {
        let (code, _) = self.split();
        let national = self.national();
        let len = national.len();
        let (keep_head, keep_tail) = if len >= 7 { (3, 3) } else { (0, len.min(2)) };
        let mut out = String::with_capacity(len + 5);
        out.push('+');
        if code != 0 {
            out.push_str(&code.to_string());
        }
        out.push_str(&national[..keep_head]);
        out.extend(std::iter::repeat_n('*', len - keep_head - keep_tail));
        out.push_str(&national[len - keep_tail..]);
        out
    }

    /// (country code, number of national digits).
    fn split(self) -> (u16, u32) {
        let total = digit_count(self.0);
        for code_len in 1..=3u32 {
            if code_len >= total {
                break;
            }
            let nsn_len = total - code_len;
            let Ok(code) = u16::try_from(self.0 / 10u64.pow(nsn_len)) else {
                break;
            };
            if DATABASE.region(&code).is_some() {
                return (code, nsn_len);
            }
        }
        (0, total)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn digit_count(n: u64) -> u32 {
    n.checked_ilog10().map_or(1, |l| l + 1)
}

fn parse_with(input: &str, default_region: Region, fast: bool) -> Result<PhoneNumber, NumberError> {
    let fail = |kind, detail: &str| NumberError::new(input, kind, detail);

    if too_long(input) {
        return Err(fail(NumberErrorKind::TooLong, ""));
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(fail(NumberErrorKind::Empty, ""));
    }
    let scan = Scan::run(trimmed).map_err(|problem| match problem {
        Problem::InvalidCharacter(c) => fail(
            NumberErrorKind::InvalidCharacter,
            &format!("unexpected character {c:?}"),
        ),
        Problem::MultipleNumbers => fail(NumberErrorKind::MultipleNumbers, ""),
        Problem::TooLong => fail(NumberErrorKind::TooLong, ""),
    })?;
    if scan.len < MIN_DIGITS {
        let detail = if scan.len == 0 {
            "no digits"
        } else {
            "too few digits"
        };
        return Err(fail(NumberErrorKind::NotANumber, detail));
    }
    if fast {
        if let Some(number) = fast_polish(&scan, default_region) {
            return Ok(number);
        }
    }
    resolve(&scan, default_region).map_err(|reason| {
        if scan.looks_like_two_numbers() {
            fail(NumberErrorKind::MultipleNumbers, "")
        } else {
            fail(NumberErrorKind::InvalidForRegion, &reason)
        }
    })
}

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod spelling_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod type_tests {
    use super::*;

    const PL: Region = Region::PL;

    #[test]
    fn accessors() {
        let cases: [(&str, u64, u16, &str, &str); 7] = [
            (
                "+48 601 234 567",
                48601234567,
                48,
                "601234567",
                "+48601***567",
            ),
            (
                "+48 22 123 45 67",
                48221234567,
                48,
                "221234567",
                "+48221***567",
            ),
            (
                "+44 20 7946 0958",
                442079460958,
                44,
                "2079460958",
                "+44207****958",
            ),
            (
                "+1 201 555 0123",
                12015550123,
                1,
                "2015550123",
                "+1201****123",
            ),
            (
                "+351 21 123 4567",
                351211234567,
                351,
                "211234567",
                "+351211***567",
            ),
            (
                "+39 02 3661 8300",
                390236618300,
                39,
                "0236618300",
                "+39023****300",
            ),
            (
                "+49 30 12345678",
                493012345678,
                49,
                "3012345678",
                "+49301****678",
            ),
        ];
        for (input, digits, code, national, masked) in cases {
            let n = PhoneNumber::parse(input, PL).unwrap();
            assert_eq!(n.digits(), digits, "{input}");
            assert_eq!(n.country_code(), code, "{input}");
            assert_eq!(n.national(), national, "{input}");
            assert_eq!(n.masked(), masked, "{input}");
            assert_eq!(n.e164(), format!("+{digits}"));
        }
    }

    #[test]
    fn masked_short_numbers_keep_last_two() {
        // +290 (St Helena) has 5-digit national numbers.
        let n = PhoneNumber::from_digits(29022841).unwrap();
        assert_eq!(n.country_code(), 290);
        assert_eq!(n.national(), "22841");
        assert_eq!(n.masked(), "+290***41");
        // Seven national digits: one masked.
        let n = PhoneNumber::from_digits(483012345).unwrap();
        assert_eq!(n.masked(), "+48301*345");
        // Unknown country code: everything is national.
        let n = PhoneNumber::from_digits(9_990_000_001).unwrap();
        assert_eq!(n.country_code(), 0);
        assert_eq!(n.national(), "9990000001");
        assert_eq!(n.masked(), "+999****001");
    }

    #[test]
    fn from_digits_checks_length_only() {
        assert_eq!(
            PhoneNumber::from_digits(48601234567).map(PhoneNumber::digits),
            Some(48601234567)
        );
        assert_eq!(
            PhoneNumber::from_digits(1_234_567).map(PhoneNumber::digits),
            Some(1_234_567)
        );
        assert_eq!(PhoneNumber::from_digits(123_456), None);
        assert_eq!(PhoneNumber::from_digits(0), None);
        assert!(PhoneNumber::from_digits(999_999_999_999_999).is_some());
        assert_eq!(PhoneNumber::from_digits(1_000_000_000_000_000), None);
        assert_eq!(PhoneNumber::from_digits(u64::MAX), None);
        let parsed = PhoneNumber::parse("601 234 567", PL).unwrap();
        assert_eq!(PhoneNumber::from_digits(parsed.digits()), Some(parsed));
    }

    #[test]
    fn display_and_serialize() {
        struct ViaSerde(PhoneNumber);
        impl fmt::Display for ViaSerde {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                serde::Serialize::serialize(&self.0, f)
            }
        }
        let n = PhoneNumber::parse("601 234 567", PL).unwrap();
        assert_eq!(n.to_string(), "+48601234567");
        assert_eq!(format!("{n}"), n.e164());
        assert_eq!(ViaSerde(n).to_string(), "+48601234567");
    }

    #[test]
    fn country_codes_are_prefix_free() {
        // (`DATABASE.iter()` goes by region id and shows only one of the
        // non-geographic codes, which all have the id `001`.)
        let codes: Vec<u16> = (1..=999u16)
            .filter(|code| DATABASE.by_code(code).is_some())
            .collect();
        assert!(codes.len() > 200 && codes.contains(&800) && codes.contains(&979));
        for &a in &codes {
            for &b in &codes {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} is a prefix of {b}");
            }
        }
    }
}
