//! Number prefixes, for range blocks: `+48 70` stands for every number whose E.164 digits
//! start 4870 (Polish premium-rate numbers), `+48 22 123 45` for a company's block of
//! extensions, `+44` for a whole country code.
//!
//! A prefix is written in international form (`+` or `00`, then the country code):
//! without one, `48 70` could be the Radom area code or the country code, and a prefix is
//! never a guess. It must start with a whole country code that the metadata knows, be no
//! longer than the longest number of that code, and be the start of at least one valid
//! number of it: `+48 0` or `+44 (0)20` would block nothing (stored numbers never carry a
//! trunk 0 after the country code), and a block that blocks nothing fails silently. The
//! last test walks the metadata's patterns of the code's number types as automata
//! (`regex-automata`'s lazy DFA, already built for `regex`): a pattern accepts a prefix
//! when reading it leaves the automaton in a state other than the dead one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use phonenumber::metadata::DATABASE;
use regex_automata::hybrid::dfa::DFA;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::rules::VALID_TYPES;
use super::scan::{decimal_digit, is_separator};
use super::{digit_count, truncate, PhoneNumber, MAX_E164_DIGITS};

/// Inputs longer than this are refused before they are read.
const MAX_INPUT_BYTES: usize = 256;

/// The leading digits of E.164 numbers, country code first. Country codes never start
/// with 0, so the digits' value alone says how many there are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Prefix(u64);

/// Why an input is not an acceptable prefix; the message names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PrefixError {
    pub input: String,
    pub message: String,
}

impl PrefixError {
    fn new(input: &str, detail: &str) -> PrefixError {
        let input = truncate(input);
        let message = format!("{input:?} is not a valid prefix: {detail}");
        PrefixError { input, message }
    }
}

impl Prefix {
    /// Reads a prefix as an agent or an export writes it (`+48 70`, `0048 70`,
    /// `tel:+48-70`, Unicode digits and spaces) into its canonical digits.
    pub fn parse(input: &str) -> Result<Prefix, PrefixError> {
        let fail = |detail: &str| PrefixError::new(input, detail);
        if input.len() > MAX_INPUT_BYTES {
            return Err(fail("it is too long"));
        }
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty; expected e.g. +48 70"));
        }
        let body = match trimmed.get(..4) {
            Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => &trimmed[4..],
            _ => trimmed,
        };
        let mut digits = String::with_capacity(16);
        let mut plus = false;
        for c in body.chars() {
            if let Some(d) = decimal_digit(c) {
                if digits.len() > MAX_E164_DIGITS as usize + 2 {
                    return Err(fail("it is longer than a full number (15 digits)"));
                }
                digits.push(char::from(b'0' + d));
            } else if matches!(c, '+' | '\u{FF0B}') && digits.is_empty() && !plus {
                plus = true;
            } else if !is_separator(c) {
                return Err(fail(&format!("unexpected character {c:?}")));
            }
        }
        let digits = match digits.strip_prefix("00") {
            _ if plus => digits.as_str(),
            Some(rest) => rest,
            None => {
                return Err(fail(
                    "it has no country code; write a prefix in international form, \
                     with + and the country code (e.g. +48 70)",
                ))
            }
        };
        if digits.is_empty() {
            return Err(fail(
                "it has no digits; a prefix needs at least the country code",
            ));
        }
        if digits.starts_with('0') {
            return Err(fail("no country code starts with 0"));
        }
        if digits.len() > MAX_E164_DIGITS as usize {
            return Err(fail("it is longer than a full number (15 digits)"));
        }
        let Some((code, national)) = split_country_code(digits) else {
            return Err(fail(&unknown_code(digits)));
        };
        match reach(code, national) {
            Reach::Possible => {}
            Reach::TooLong(max) => {
                return Err(fail(&format!(
                    "it is longer than any number of +{code} ({max} digits after the country code)"
                )))
            }
            Reach::Nothing => {
                return Err(fail(&format!(
                    "no valid number of +{code} starts with {national}, so it would block nothing"
                )))
            }
        }
        Ok(Prefix(digits.parse().expect("at most 15 ASCII digits")))
    }

    /// Rebuilds a prefix read back from storage: 1 to 15 digits, not validated.
    pub fn from_digits(digits: u64) -> Option<Prefix> {
        (digits > 0 && digit_count(digits) <= MAX_E164_DIGITS).then_some(Prefix(digits))
    }

    /// The digits, country code first: `4870`.
    pub fn digits(self) -> u64 {
        self.0
    }

    /// How many digits the prefix has.
    pub fn digit_count(self) -> u32 {
        digit_count(self.0)
    }

    /// Whether `number` starts with this prefix.
    pub fn covers(self, number: PhoneNumber) -> bool {
        let (n, len) = (number.digits(), digit_count(number.digits()));
        let k = self.digit_count();
        k <= len && n / 10u64.pow(len - k) == self.0
    }

    /// Every prefix `number` has, from its first digit to all of them: the digits a
    /// prefix entry covering it can have.
    pub fn all_of(number: PhoneNumber) -> impl Iterator<Item = Prefix> {
        let (n, len) = (number.digits(), digit_count(number.digits()));
        (1..=len).map(move |k| Prefix(n / 10u64.pow(len - k)))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl serde::Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The country code at the start of `digits` and the digits after it. Country codes are
/// prefix-free, so the first known one is the one.
fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    (1..=digits.len().min(3)).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        DATABASE
            .by_code(&code)
            .is_some()
            .then_some((code, &digits[len..]))
    })
}

fn unknown_code(digits: &str) -> String {
    let partial = digits.len() < 3
        && (1..=999u16)
            .any(|c| c.to_string().starts_with(digits) && DATABASE.by_code(&c).is_some());
    if partial {
        format!("+{digits} is only the start of a country code; a prefix needs at least the whole country code")
    } else {
        format!(
            "unknown country code in +{}",
            &digits[..digits.len().min(3)]
        )
    }
}

enum Reach {
    /// Some valid number starts with the digits.
    Possible,
    /// Longer than any number of the code: the most national digits it has.
    TooLong(usize),
    /// No valid number starts with them.
    Nothing,
}

/// Whether a valid number of country code `code` can start with the national digits
/// `national` (empty: any number of the code).
fn reach(code: u16, national: &str) -> Reach {
    let types = patterns(code);
    let max = types.iter().map(|t| t.max_len).max().unwrap_or(0);
    if national.len() > max {
        return Reach::TooLong(max);
    }
    if types
        .iter()
        .any(|t| national.len() <= t.max_len && t.can_start_with(national))
    {
        Reach::Possible
    } else {
        Reach::Nothing
    }
}

/// One number type of one region of a code: its national-number pattern as an automaton,
/// and the most digits such a number has.
struct TypePattern {
    /// `None` when the pattern does not compile here: then it refuses nothing.
    dfa: Option<DFA>,
    max_len: usize,
}

impl TypePattern {
    fn can_start_with(&self, digits: &str) -> bool {
        let Some(dfa) = &self.dfa else {
            return true;
        };
        let mut cache = dfa.create_cache();
        let input = Input::new(digits).anchored(Anchored::Yes);
        // Where the automaton gives up (it never should on these patterns), the prefix
        // is accepted: refusing it would refuse a block.
        let Ok(mut state) = dfa.start_state_forward(&mut cache, &input) else {
            return true;
        };
        for &b in digits.as_bytes() {
            match dfa.next_state(&mut cache, state, b) {
                Ok(next) if next.is_dead() => return false,
                Ok(next) => state = next,
                Err(_) => return true,
            }
        }
        true
    }
}

/// The patterns of every valid number type of every region of `code`, compiled on first
/// use (prefixes are read on writes, never on `/check`).
fn patterns(code: u16) -> Arc<Vec<TypePattern>> {
    static CACHE: LazyLock<Mutex<HashMap<u16, Arc<Vec<TypePattern>>>>> =
        LazyLock::new(Default::default);
    if let Some(p) = CACHE.lock().expect("prefix patterns lock").get(&code) {
        return p.clone();
    }
    let code_len = digit_count(u64::from(code)) as usize;
    let longest = MAX_E164_DIGITS as usize - code_len;
    let mut out = Vec::new();
    for meta in DATABASE.by_code(&code).unwrap_or_default() {
        let general = meta.descriptors().general().possible_length();
        for desc in VALID_TYPES
            .iter()
            .filter_map(|&kind| meta.descriptors().get(kind))
        {
            let lengths = match desc.possible_length() {
                [] => general,
                own => own,
            };
            let max_len = lengths
                .iter()
                .map(|&l| usize::from(l))
                .max()
                .unwrap_or(longest)
                .min(longest);
            out.push(TypePattern {
                dfa: compile(desc.national_number().as_str()),
                max_len,
            });
        }
    }
    let out = Arc::new(out);
    CACHE
        .lock()
        .expect("prefix patterns lock")
        .insert(code, out.clone());
    out
}

/// What a do-not-call entry blocks: one number, or every number that starts with a
/// prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Number(PhoneNumber),
    Prefix(Prefix),
}

impl Target {
    /// The digits as stored: the number's, or the prefix's.
    pub fn digits(self) -> u64 {
        match self {
            Target::Number(n) => n.digits(),
            Target::Prefix(p) => p.digits(),
        }
    }

    pub fn is_prefix(self) -> bool {
        matches!(self, Target::Prefix(_))
    }

    /// The number, for a number entry.
    pub fn number(self) -> Option<PhoneNumber> {
        match self {
            Target::Number(n) => Some(n),
            Target::Prefix(_) => None,
        }
    }
}

impl From<PhoneNumber> for Target {
    fn from(n: PhoneNumber) -> Target {
        Target::Number(n)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Number(n) => n.fmt(f),
            Target::Prefix(p) => p.fmt(f),
        }
    }
}

/// The metadata's patterns are written with insignificant whitespace and only ever see
/// ASCII digits (as in `rules::compile`).
fn compile(pattern: &str) -> Option<DFA> {
    DFA::builder()
        .syntax(
            syntax::Config::new()
                .ignore_whitespace(true)
                .unicode(false)
                .utf8(false),
        )
        .build(pattern)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Region;

    fn digits(input: &str) -> u64 {
        Prefix::parse(input)
            .unwrap_or_else(|e| panic!("{input:?}: {e}"))
            .digits()
    }

    #[test]
    fn spellings_are_canonicalised() {
        assert_eq!(digits("+48 70"), 4870);
        assert_eq!(digits("0048 70"), 4870);
        assert_eq!(digits("  +48-70  "), 4870);
        assert_eq!(digits("tel:+48-70"), 4870);
        assert_eq!(digits("+48\u{a0}22 123 45"), 482212345);
        assert_eq!(digits("(+48) 22 123-45"), 482212345);
        assert_eq!(digits("＋４８ ７０"), 4870);
        assert_eq!(digits("+44"), 44);
        assert_eq!(digits("+1"), 1);
        assert_eq!(digits("+7 800"), 7800);
        // A whole number is the longest prefix there is.
        assert_eq!(digits("+48 601 234 567"), 48601234567);
        assert_eq!(Prefix::parse("+48 70").unwrap().to_string(), "+4870");
    }

    #[test]
    fn bad_prefixes_are_refused_naming_the_problem() {
        for (input, problem) in [
            ("", "empty"),
            ("   ", "empty"),
            ("48 70", "no country code"),
            ("70", "no country code"),
            ("+", "no digits"),
            ("+0 12", "no country code starts with 0"),
            ("+4", "only the start of a country code"),
            ("+99", "only the start of a country code"),
            ("+999 1", "unknown country code"),
            ("+48 0", "no valid number of +48 starts with 0"),
            ("+44 020", "no valid number of +44 starts with 020"),
            ("+1 0", "no valid number of +1 starts with 0"),
            ("+48 60123456789", "longer than any number of +48"),
            (
                "+48 6012345678",
                "no valid number of +48 starts with 6012345678",
            ),
            ("+48 601 234 567 890 12", "longer than a full number"),
            ("+48 70x", "unexpected character 'x'"),
            ("+48 70 ext 1", "unexpected character 'e'"),
            ("+48+70", "unexpected character '+'"),
            ("+48;70", "unexpected character ';'"),
        ] {
            let e = Prefix::parse(input).expect_err(input);
            assert!(e.message.contains(problem), "{input:?}: {}", e.message);
            assert!(
                e.message.starts_with(&format!("{input:?}")),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn a_prefix_covers_the_numbers_that_start_with_it() {
        let n = PhoneNumber::parse("+48 701 234 567", Region::PL).unwrap();
        for p in ["+48", "+48 70", "+48 701", "+48 701 234 567"] {
            assert!(Prefix::parse(p).unwrap().covers(n), "{p}");
        }
        for p in ["+48 71", "+48 7013", "+44", "+4"] {
            assert!(
                Prefix::parse(p).map_or(true, |p| !p.covers(n)),
                "{p} must not cover"
            );
        }
        let all: Vec<u64> = Prefix::all_of(n).map(Prefix::digits).collect();
        assert_eq!(all.len(), 11);
        assert_eq!(all[0], 4);
        assert_eq!(all[3], 4870);
        assert_eq!(all[10], 48701234567);
        assert!(Prefix::all_of(n).all(|p| p.covers(n)));
    }

    #[test]
    fn from_digits_checks_length_only() {
        assert_eq!(Prefix::from_digits(4870).map(Prefix::digits), Some(4870));
        assert_eq!(Prefix::from_digits(0), None);
        assert_eq!(Prefix::from_digits(1_000_000_000_000_000), None);
        assert_eq!(Prefix::from_digits(4870).unwrap().digit_count(), 4);
    }

    /// The metadata's own example numbers (written by libphonenumber's maintainers, not
    /// here): every start of every one of them, from its country code on, is a prefix.
    #[test]
    fn every_start_of_every_example_number_is_a_prefix() {
        let mut checked = 0;
        for code in 1..=999u16 {
            let Some(metas) = DATABASE.by_code(&code) else {
                continue;
            };
            for meta in metas {
                for desc in VALID_TYPES
                    .iter()
                    .filter_map(|&kind| meta.descriptors().get(kind))
                {
                    let Some(example) = desc.example() else {
                        continue;
                    };
                    let full = format!("{code}{example}");
                    if full.len() > MAX_E164_DIGITS as usize {
                        continue;
                    }
                    let code_len = code.to_string().len();
                    for end in code_len..=full.len() {
                        let p = Prefix::parse(&format!("+{}", &full[..end]));
                        assert!(p.is_ok(), "{} ({}): {:?}", &full[..end], meta.id(), p);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
