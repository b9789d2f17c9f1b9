//! The `phonenumber` crate's metadata compiled for exact matching.
//!
//! The crate's own check (`Descriptor::is_match`) only asks whether a pattern
//! matches at the *start* of a number, so a shorter valid pattern followed by
//! extra digits passes whenever the length is allowed: it takes `300094417`
//! for a Polish number, though numbers starting 30 are 30 + 5 digits.
//! libphonenumber matches the whole number (`matcher.matches()`). Here every
//! pattern is compiled once, anchored at both ends, from the crate's own
//! pattern text, so the data stays the crate's and only the matching is ours.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use regex::{Regex, RegexBuilder};

use super::validity::VALID_TYPES;

/// One number type of a region: its pattern must match the whole national
/// significant number, and the number must have one of its lengths.
struct Pattern {
    /// `None` when the crate's pattern does not compile here: nothing matches.
    full: Option<Regex>,
    /// Empty means any length (the general description's lengths apply).
    lengths: Vec<u16>,
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
        len_ok && self.full.as_ref().is_some_and(|re| re.is_match(nsn))
    }
}

/// What decides validity in one region.
pub(super) struct Rules {
    /// The general description; its lengths are those of every type, as
    /// libphonenumber computes them when it builds its metadata.
    general: Pattern,
    /// The types that make a number valid (fixed line, mobile, toll free, …).
    types: Vec<Pattern>,
    /// For a country code shared by several regions: the national numbers
    /// that belong to this one (matched at the start).
    leading_digits: Option<Regex>,
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
        Rules {
            general: Pattern::new(descriptors.general(), lengths),
            types: VALID_TYPES
                .iter()
                .filter_map(|&kind| descriptors.get(kind))
                .map(|desc| Pattern::new(desc, desc.possible_length().to_vec()))
                .collect(),
            leading_digits: meta
                .leading_digits()
                .and_then(|re| compile(&format!("^(?:{})", re.as_str()))),
        }
    }

    /// libphonenumber's `getNumberTypeHelper(…) != UNKNOWN`: the number fits
    /// the general description and at least one type.
    fn is_valid(&self, nsn: &str) -> bool {
        self.general.matches(nsn) && self.types.iter().any(|kind| kind.matches(nsn))
    }
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
}
