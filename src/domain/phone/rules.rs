//! The `phonenumber` crate's metadata compiled for exact matching.
//!
//! The crate's own check (`Descriptor::is_match`) only asks whether a pattern
//! matches at the *start* of a number, so a shorter valid pattern followed by
//! extra digits passes whenever the length is allowed: it takes `300094417`
//! for a Polish number, though numbers starting 30 are 30 + 5 digits.
//! libphonenumber matches the whole number (`matcher.matches()`). Here every
//! pattern is compiled once, anchored at both ends, from the crate's own
//! pattern text, so the data stays the crate's and only the matching is ours.
//!
//! The national prefix rule is libphonenumber's too. The crate strips a
//! national prefix whenever one matches (its viability check looks at the
//! wrong slice of the number), so `+7 800 123-45-67` lost its 8 and was "too
//! few digits"; libphonenumber keeps the digits when stripping would leave a
//! number that does not fit the region's general pattern or lengths.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::Type;
use regex::{Regex, RegexBuilder};

/// The number types that make a number valid (mirrors `phonenumber`'s
/// `number_type`), used to explain why a number is invalid when a country
/// has no fixed-line or mobile lengths.
pub(super) const VALID_TYPES: [Type; 10] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::PersonalNumber,
    Type::Voip,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

/// One number type of a region: its pattern must match the whole national
/// significant number, and the number must have one of its lengths.
struct Pattern {
    /// `None` when the crate's pattern does not compile here: nothing matches.
    full: Option<Regex>,
    /// Empty means any length (the general description's lengths apply).
    lengths: Vec<u16>,
}

/// libphonenumber's `testNumberLength` for an unknown type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

impl Pattern {
    fn new(desc: &Descriptor, lengths: Vec<u16>) -> Pattern {
        Pattern {
            full: compile(&format!("^(?:{})$", desc.national_number().as_str())),
            lengths,
        }
    }

    /// libphonenumber's `isNumberMatchingDesc`: length, then the whole pattern.
    fn matches(&self, nsn: &str) -> bool {
        let len_ok = self.lengths.is_empty()
            || u16::try_from(nsn.len()).is_ok_and(|len| self.lengths.contains(&len));
        len_ok && self.matches_pattern(nsn)
    }

    /// libphonenumber's `matchNationalNumber`: the whole pattern, any length.
    fn matches_pattern(&self, nsn: &str) -> bool {
        self.full.as_ref().is_some_and(|re| re.is_match(nsn))
    }
}

/// What decides validity in one region.
pub(super) struct Rules {
    /// The general description; its lengths are those of every type, as
    /// libphonenumber computes them when it builds its metadata.
    general: Pattern,
    /// The types that make a number valid (fixed line, mobile, toll free, …).
    types: Vec<Pattern>,
    /// Lengths of numbers that can only be dialled locally (without an area
    /// code), and are no other type's length.
    local_lengths: Vec<u16>,
    /// For a country code shared by several regions: the national numbers
    /// that belong to this one (matched at the start).
    leading_digits: Option<Regex>,
    /// The national prefix (and carrier code) as it may be dialled, matched
    /// at the start: `nationalPrefixForParsing`, else the national prefix.
    national_prefix: Option<Regex>,
    /// What replaces the matched national prefix, if not nothing (`9$1`).
    transform: Option<String>,
}

impl Rules {
    fn new(meta: &Metadata) -> Rules {
        let descriptors = meta.descriptors();
        let mut lengths: Vec<u16> = VALID_TYPES
            .iter()
            .filter_map(|&kind| descriptors.get(kind))
            .flat_map(|desc| desc.possible_length().iter().copied())
            .collect();
        lengths.sort_unstable();
        lengths.dedup();
        let mut local_lengths: Vec<u16> = VALID_TYPES
            .iter()
            .filter_map(|&kind| descriptors.get(kind))
            .flat_map(|desc| desc.possible_local_length().iter().copied())
            .filter(|len| !lengths.contains(len))
            .collect();
        local_lengths.sort_unstable();
        local_lengths.dedup();
        let national_prefix = match (meta.national_prefix_for_parsing(), meta.national_prefix()) {
            (Some(re), _) => compile(&format!("^(?:{})", re.as_str())),
            (None, Some(prefix)) => compile(&format!("^{}", regex::escape(prefix))),
            (None, None) => None,
        };
        Rules {
            general: Pattern::new(descriptors.general(), lengths),
            local_lengths,
            types: VALID_TYPES
                .iter()
                .filter_map(|&kind| descriptors.get(kind))
                .map(|desc| Pattern::new(desc, desc.possible_length().to_vec()))
                .collect(),
            leading_digits: meta
                .leading_digits()
                .and_then(|re| compile(&format!("^(?:{})", re.as_str()))),
            national_prefix,
            transform: meta
                .national_prefix_transform_rule()
                .filter(|rule| !rule.is_empty())
                .map(braced_groups),
        }
    }

    /// The national significant number in `digits` (no country code):
    /// without the national prefix when libphonenumber would strip it, that
    /// is when what is left is long enough to be a number of the region.
    pub(super) fn national_number<'a>(&self, digits: &'a str) -> Cow<'a, str> {
        match self.strip_national_prefix(digits) {
            Some(stripped)
                if !matches!(
                    self.length(stripped.len()),
                    Length::TooShort | Length::LocalOnly | Length::Invalid
                ) =>
            {
                stripped
            }
            _ => Cow::Borrowed(digits),
        }
    }

    /// libphonenumber's `maybeStripNationalPrefixAndCarrierCode`: the
    /// digits after the national prefix (or as its transform rule rewrites
    /// them), unless the number fitted the general pattern before and would
    /// not after.
    fn strip_national_prefix<'a>(&self, digits: &'a str) -> Option<Cow<'a, str>> {
        let caps = self.national_prefix.as_ref()?.captures(digits)?;
        let end = caps.get(0)?.end();
        let viable = self.general.matches_pattern(digits);
        // With no capture group this is the whole match (as in Java).
        let last_group = caps.get(caps.len() - 1);
        let stripped = match (&self.transform, last_group) {
            (Some(rule), Some(_)) => {
                let mut out = String::new();
                caps.expand(rule, &mut out);
                out.push_str(&digits[end..]);
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(&digits[end..]),
        };
        (!viable || self.general.matches_pattern(&stripped)).then_some(stripped)
    }

    /// libphonenumber's `testNumberLength` against the general lengths.
    fn length(&self, len: usize) -> Length {
        let lengths = &self.general.lengths;
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        match (lengths.first(), lengths.last()) {
            (None, _) | (_, None) => Length::Invalid,
            _ if self.local_lengths.contains(&len) => Length::LocalOnly,
            (Some(&min), _) if len < min => Length::TooShort,
            (_, Some(&max)) if len > max => Length::TooLong,
            _ if lengths.contains(&len) => Length::Possible,
            _ => Length::Invalid,
        }
    }

    /// libphonenumber's `getNumberTypeHelper(…) != UNKNOWN`: the number fits
    /// the general description and at least one type.
    fn is_valid(&self, nsn: &str) -> bool {
        self.general.matches(nsn) && self.types.iter().any(|kind| kind.matches(nsn))
    }
}

/// A transform rule in Java's syntax (`9$1`) in the regex crate's (`9${1}`),
/// which would read `$1a` as a group named `1a`.
fn braced_groups(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len() + 4);
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('$', Some(d)) if d.is_ascii_digit() => {
                out.push_str("${");
                out.push(*d);
                out.push('}');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The crate's patterns are written with insignificant whitespace and only
/// ever see ASCII digits.
fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

/// Every region of a country code, the main one first (as the crate lists
/// them), each compiled on first use.
type Country = Vec<(&'static Metadata, OnceLock<Rules>)>;

/// (`DATABASE.iter()` goes by region id, so it shows only one of the
/// non-geographic codes, which all have the id `001`: ask every code.)
static COUNTRIES: LazyLock<HashMap<u16, Country>> = LazyLock::new(|| {
    (1..=999u16)
        .filter_map(|code| {
            let metas = DATABASE.by_code(&code)?;
            Some((
                code,
                metas.into_iter().map(|m| (m, OnceLock::new())).collect(),
            ))
        })
        .collect()
});

fn rules_of<'a>(entry: &'a (&'static Metadata, OnceLock<Rules>)) -> &'a Rules {
    entry.1.get_or_init(|| Rules::new(entry.0))
}

/// The rules of the region `meta` describes.
pub(super) fn of_region(meta: &Metadata) -> Option<&'static Rules> {
    let regions = COUNTRIES.get(&meta.country_code())?;
    let entry = regions.iter().find(|(m, _)| m.id() == meta.id())?;
    Some(rules_of(entry))
}

/// The rules of the main region of a country code (`RU` for +7): those that
/// read a number written after the code. `None` for an unknown code.
pub(super) fn of_code(code: u16) -> Option<&'static Rules> {
    COUNTRIES.get(&code)?.first().map(rules_of)
}

/// libphonenumber's `isValidNumber`: the region a national number belongs
/// to (by its leading digits, or the first region where it is valid) must
/// have a number type that matches it exactly.
pub(super) fn is_valid(code: u16, nsn: &str) -> bool {
    let Some(regions) = COUNTRIES.get(&code) else {
        return false;
    };
    if let [only] = regions.as_slice() {
        return rules_of(only).is_valid(nsn);
    }
    for entry in regions {
        let rules = rules_of(entry);
        match &rules.leading_digits {
            Some(leading) if leading.is_match(nsn) => return rules.is_valid(nsn),
            Some(_) => {}
            None if rules.is_valid(nsn) => return true,
            None => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_of_the_metadata_compiles() {
        let regions: Vec<_> = COUNTRIES.values().flatten().collect();
        assert!(regions.len() > 250, "{} regions", regions.len());
        for &(meta, _) in regions {
            let rules = Rules::new(meta);
            let id = meta.id();
            assert!(rules.general.full.is_some(), "{id}: general pattern");
            assert!(!rules.general.lengths.is_empty(), "{id}: no lengths");
            for kind in &rules.types {
                assert!(kind.full.is_some(), "{id}: a type's pattern");
            }
            if meta.leading_digits().is_some() {
                assert!(rules.leading_digits.is_some(), "{id}: leading digits");
            }
        }
    }

    #[test]
    fn a_pattern_matches_the_whole_number_not_its_start() {
        // PL fixed line `30\d{5}` is 7 digits; 9 digits starting 30 are no number,
        // although 9 is a fixed-line length.
        assert!(is_valid(48, "3000944"));
        assert!(!is_valid(48, "300094417"));
        assert!(is_valid(48, "601234567"));
        assert!(!is_valid(48, "60123456"));
        // China 10 + 8 digits; one more is not a longer Beijing number.
        assert!(is_valid(86, "1012345678"));
        assert!(!is_valid(86, "10123456782"));
        // A shared code: +1 268 is Antigua, by its leading digits.
        assert!(is_valid(1, "2684601234"));
        assert!(is_valid(1, "2015550123"));
        assert!(!is_valid(1, "201555012"));
        // Non-geographic codes (all of region `001`).
        assert!(is_valid(800, "12345678"));
        assert!(is_valid(870, "301234567"));
        assert!(is_valid(882, "3421234"));
        assert!(!is_valid(999, "123456789"));
    }

    #[test]
    fn a_national_prefix_is_stripped_only_when_a_number_is_left() {
        let ru = of_code(7).unwrap();
        // 8 800 … is toll free: stripping the 8 would leave no number.
        assert_eq!(ru.national_number("8001234567"), "8001234567");
        // The trunk 8 before a full number goes.
        assert_eq!(ru.national_number("88001234567"), "8001234567");
        let gb = of_code(44).unwrap();
        assert_eq!(gb.national_number("02079460958"), "2079460958");
        assert_eq!(gb.national_number("2079460958"), "2079460958");
        // Stripping that leaves too few digits is undone.
        assert_eq!(gb.national_number("0123"), "0123");
        // Poland has no national prefix.
        let pl = of_code(48).unwrap();
        assert_eq!(pl.national_number("0601234567"), "0601234567");
        // A transform rule: Argentina's 0 + area code + 15 becomes 9 + area code.
        let ar = of_code(54).unwrap();
        assert_eq!(ar.national_number("0111512345678"), "91112345678");
        assert_eq!(braced_groups("9$1"), "9${1}");
        assert_eq!(braced_groups("$2"), "${2}");
        assert_eq!(braced_groups("0549$1"), "0549${1}");
    }
}
