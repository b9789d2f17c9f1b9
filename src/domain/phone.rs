//! Phone numbers in canonical E.164 form.
//!
//! [`PhoneNumber::parse`] accepts the spellings that registry exports and
//! agents produce (spaces of any kind, dashes, dots, parentheses, `+`/`00`
//! prefixes, `tel:` URIs, full-width and other Unicode decimal digits,
//! extensions) and turns them into one canonical value, so that two spellings
//! of one number always compare equal. Validity is decided by the
//! `phonenumber` crate's metadata.
//!
//! Pre-normalisation is our own (one pass over the characters, no
//! allocation): `phonenumber` is only ever handed plain ASCII digits. This is
//! deliberate, because `phonenumber` 0.3 maps vanity letters to digits,
//! silently drops unknown characters, and strips a leading country code from
//! numbers that are already valid national numbers (it reads the Radom number
//! `48 301 23 45` as `+48 3012345`).

use std::fmt;

use std::sync::atomic::{AtomicU8, Ordering};

use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::{ParseError, Type};

pub use phonenumber::country::Id as Region;

/// Inputs longer than this (in chars) are rejected outright.
const MAX_INPUT_CHARS: usize = 256;
/// Inputs longer than this (in chars) are rejected when they also carry more
/// than [`LONG_INPUT_MAX_DIGITS`] digits.
const LONG_INPUT_CHARS: usize = 64;
const LONG_INPUT_MAX_DIGITS: usize = 20;
/// Capacity of the digit buffer. Inputs that survive the length guard have at
/// most 64 digits (either at most 64 chars, or at most 20 digits).
const MAX_SCAN_DIGITS: usize = 64;
/// Longest extension we accept (and ignore).
const MAX_EXTENSION_DIGITS: usize = 10;
/// Longest `phone-context=+…` prefix we accept in a `tel:` URI.
const MAX_CONTEXT_DIGITS: usize = 15;
/// How much of the input an error message quotes.
const QUOTE_CHARS: usize = 64;
/// Fewer digits than this is not a phone number at all.
const MIN_DIGITS: usize = 3;
/// Digit count of an E.164 number (country code included).
const MIN_E164_DIGITS: u32 = 7;
const MAX_E164_DIGITS: u32 = 15;
/// Two numbers glued together: each part has at least this many digits.
const MIN_SPLIT_DIGITS: usize = 7;

/// The number types that make a number valid (mirrors `phonenumber`'s
/// `number_type`), used to explain why a number is invalid when a country
/// has no fixed-line or mobile lengths.
const VALID_TYPES: [Type; 10] = [
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

/// The cheap guard: the input is too long to bother with.
fn too_long(input: &str) -> bool {
    // A char is at most 4 bytes, so this many bytes is surely too many chars.
    if input.len() > MAX_INPUT_CHARS * 4 {
        return true;
    }
    // At most 64 bytes means at most 64 chars: nothing more to check.
    if input.len() <= LONG_INPUT_CHARS {
        return false;
    }
    let (mut chars, mut digits) = (0usize, 0usize);
    for c in input.chars() {
        chars += 1;
        if decimal_digit(c).is_some() {
            digits += 1;
        }
    }
    chars > MAX_INPUT_CHARS || (chars > LONG_INPUT_CHARS && digits > LONG_INPUT_MAX_DIGITS)
}

/// The code point of every Unicode zero digit (general category Nd); each is
/// followed by digits one to nine. Sorted.
const UNICODE_ZEROS: [u32; 68] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950,
    0x1FBF0,
];

/// The value of a Unicode decimal digit (ASCII, full-width, Arabic-Indic, …).
/// Other numeric characters (superscripts, circled digits, fractions) are not
/// decimal digits.
fn decimal_digit(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    if c.is_ascii() {
        return None;
    }
    let cp = u32::from(c);
    let idx = UNICODE_ZEROS.partition_point(|&zero| zero <= cp);
    let offset = cp - UNICODE_ZEROS[idx.checked_sub(1)?];
    u8::try_from(offset).ok().filter(|&d| d < 10)
}

/// Characters that only separate groups of digits.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.'
                | '('
                | ')'
                | '['
                | ']'
                | '/'
                | '\u{00AD}'
                | '\u{200B}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{FF08}'
                    | '\u{FF09}'
                    | '\u{FF0D}'
                    | '\u{FF0E}'
                    | '\u{FF0F}'
        )
}

/// Characters that separate entries of a list.
fn is_list_separator(c: char) -> bool {
    matches!(
        c,
        ',' | ';' | '|' | '&' | '\n' | '\r' | '\u{FF0C}' | '\u{FF1B}'
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    InvalidCharacter(char),
    MultipleNumbers,
    TooLong,
}

/// The result of pre-normalisation: the number's ASCII digits and how they
/// were written.
struct Scan {
    digits: [u8; MAX_SCAN_DIGITS],
    len: usize,
    /// Written with a leading `+`.
    plus: bool,
    /// Bit `k` set: a separator stood between digit `k - 1` and digit `k`.
    boundaries: u64,
    /// Digits of a `tel:` URI's `phone-context=+…` parameter.
    context: [u8; MAX_CONTEXT_DIGITS],
    context_len: usize,
}

impl Scan {
    /// One pass over `input` (already trimmed and non-empty).
    fn run(input: &str) -> Result<Scan, Problem> {
        let mut scan = Scan {
            digits: [0; MAX_SCAN_DIGITS],
            len: 0,
            plus: false,
            boundaries: 0,
            context: [0; MAX_CONTEXT_DIGITS],
            context_len: 0,
        };
        let (body, tel) = match input.get(..4) {
            Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => (&input[4..], true),
            _ => (input, false),
        };
        // The list separator (or misplaced `+`) seen after the first digits.
        let mut list_break: Option<char> = None;
        let mut pending_separator = false;
        for (i, c) in body.char_indices() {
            if let Some(d) = decimal_digit(c) {
                if list_break.is_some() {
                    return Err(Problem::MultipleNumbers);
                }
                if scan.len == MAX_SCAN_DIGITS {
                    return Err(Problem::TooLong);
                }
                if pending_separator && scan.len > 0 {
                    scan.boundaries |= 1 << scan.len;
                }
                pending_separator = false;
                scan.digits[scan.len] = b'0' + d;
                scan.len += 1;
                continue;
            }
            match c {
                '+' | '\u{FF0B}' if scan.len == 0 && list_break.is_none() => {
                    if scan.plus {
                        return Err(Problem::InvalidCharacter(c));
                    }
                    scan.plus = true;
                }
                '+' | '\u{FF0B}' => {
                    list_break.get_or_insert(c);
                }
                ';' if tel => {
                    scan.tel_parameters(&body[i + 1..])?;
                    break;
                }
                c if is_list_separator(c) => {
                    if scan.len > 0 {
                        list_break.get_or_insert(c);
                    }
                }
                c if is_separator(c) => pending_separator = true,
                c if scan.len > 0 && (c.is_ascii_alphabetic() || c == '#' || c == '\u{FF03}') => {
                    if is_extension(&body[i..]) {
                        break;
                    }
                    return Err(Problem::InvalidCharacter(c));
                }
                c => return Err(Problem::InvalidCharacter(c)),
            }
        }
        match list_break {
            Some(c @ ('+' | '\u{FF0B}')) => Err(Problem::InvalidCharacter(c)),
            _ => Ok(scan),
        }
    }

    /// `;name=value` parameters of a `tel:` URI (after the first `;`).
    /// `ext` is checked and ignored, `phone-context=+…` gives the country of
    /// a local number, anything else (`isub`, …) is ignored.
    fn tel_parameters(&mut self, params: &str) -> Result<(), Problem> {
        for param in params.split(';') {
            let param = param.trim();
            if param.is_empty() {
                continue;
            }
            let Some((name, value)) = param.split_once('=') else {
                if param.chars().any(|c| decimal_digit(c).is_some()) {
                    return Err(Problem::MultipleNumbers);
                }
                let first = param.chars().next().unwrap_or(';');
                return Err(Problem::InvalidCharacter(first));
            };
            if name.eq_ignore_ascii_case("ext") {
                if !is_extension_digits(value) {
                    let bad = value.chars().find(|&c| decimal_digit(c).is_none());
                    return Err(Problem::InvalidCharacter(bad.unwrap_or('=')));
                }
            } else if let Some(global) = value
                .strip_prefix('+')
                .filter(|_| name.eq_ignore_ascii_case("phone-context"))
            {
                // (A domain name as context says nothing about the country.)
                self.context_len = 0;
                for c in global.chars() {
                    if let Some(d) = decimal_digit(c) {
                        if self.context_len == MAX_CONTEXT_DIGITS {
                            return Err(Problem::InvalidCharacter(c));
                        }
                        self.context[self.context_len] = b'0' + d;
                        self.context_len += 1;
                    } else if !matches!(c, '-' | '.' | '(' | ')') {
                        return Err(Problem::InvalidCharacter(c));
                    }
                }
            }
        }
        Ok(())
    }

    fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or_default()
    }

    fn context(&self) -> &str {
        std::str::from_utf8(&self.context[..self.context_len]).unwrap_or_default()
    }

    /// A separator splits the digits into two runs that are each long enough
    /// to be a number of their own.
    fn looks_like_two_numbers(&self) -> bool {
        (MIN_SPLIT_DIGITS..=self.len.saturating_sub(MIN_SPLIT_DIGITS))
            .any(|k| k < 64 && self.boundaries & (1 << k) != 0)
    }
}

/// Extension markers (besides `#`), longest spelling first within a family.
const EXTENSION_MARKERS: [&str; 9] = [
    "wewn.", "wewn", "wew.", "wew", "w.", "extn.", "extn", "ext.", "ext",
];

/// `rest` (starting at a letter or `#` after the number) is an extension:
/// a marker (`wew.`, `ext`, `x`, `#`, …), an optional `:` or `=`, 1 to 10
/// digits, an optional `#`. A lone trailing `#` is accepted too.
fn is_extension(rest: &str) -> bool {
    let (after, hash) = if let Some(after) = rest.strip_prefix(['#', '\u{FF03}']) {
        (after, true)
    } else if let Some(m) = EXTENSION_MARKERS.iter().find(|m| {
        rest.get(..m.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(m))
    }) {
        (&rest[m.len()..], false)
    } else if let Some(after) = rest.strip_prefix(['x', 'X']) {
        (after, false)
    } else {
        return false;
    };
    let after = after.strip_prefix([':', '=']).unwrap_or(after).trim_start();
    let end = after
        .char_indices()
        .find(|&(_, c)| decimal_digit(c).is_none())
        .map_or(after.len(), |(i, _)| i);
    let (digits, tail) = after.split_at(end);
    let tail = tail.strip_prefix('#').unwrap_or(tail);
    tail.trim().is_empty() && (is_extension_digits(digits) || (hash && digits.is_empty()))
}

/// 1 to 10 decimal digits and nothing else.
fn is_extension_digits(s: &str) -> bool {
    let mut count = 0;
    for c in s.chars() {
        if decimal_digit(c).is_none() {
            return false;
        }
        count += 1;
    }
    (1..=MAX_EXTENSION_DIGITS).contains(&count)
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

/// Validity of 9-digit Polish national numbers by their first five digits: 0 not yet
/// known, 1 valid, 2 invalid. Every pattern in the PL metadata is a prefix of at most
/// four digits followed by free digits (`(?:45|5[0137]|…)\d{7}`), so the answer the full
/// path gives for one number holds for its whole five-digit class.
static PL_VALIDITY: [AtomicU8; 100_000] = [const { AtomicU8::new(0) }; 100_000];

/// Fills [`PL_VALIDITY`] for every class up front (about 90 000 runs of the full path,
/// well under a second), so that the first sight of each class on the hot path does not
/// pay for phonenumber's regexes. Run it off the request path, e.g. at start-up.
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
/// `+48 601 234 567`, `48601234567`, `0048601234567` — which skips phonenumber's
/// regexes. It only ever answers with what the full path answers (a test compares the
/// two over a large generated set); anything else, and every error, takes the full path.
fn fast_polish(scan: &Scan, region: Region) -> Option<PhoneNumber> {
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

/// Turns the scanned digits into a valid number, or says why not.
fn resolve(scan: &Scan, region: Region) -> Result<PhoneNumber, String> {
    let digits = scan.digits();
    if scan.plus {
        // `+00 48 …`: no country code starts with 0, so the 00 can only be a
        // redundant international prefix.
        return international(digits.strip_prefix("00").unwrap_or(digits));
    }
    if scan.context_len > 0 {
        return international(&format!("{}{digits}", scan.context()));
    }
    let Some(meta) = DATABASE.by_id(region.as_ref()) else {
        return Err(format!("no metadata for region {}", region.as_ref()));
    };
    if let Some(rest) = strip_international_prefix(meta, digits) {
        return international(rest);
    }
    national_full(meta, region, digits)
}

/// The digits after the region's international prefix (or after `00`,
/// which is the international prefix nearly everywhere), if there is one.
fn strip_international_prefix<'a>(meta: &Metadata, digits: &'a str) -> Option<&'a str> {
    let end = meta
        .international_prefix()
        .and_then(|re| re.find(digits))
        .filter(|m| m.start() == 0)
        .map(|m| m.end())
        .or_else(|| digits.starts_with("00").then_some(2))?;
    let rest = &digits[end..];
    (!rest.is_empty() && !rest.starts_with('0')).then_some(rest)
}

/// `digits` follow a `+` (or an international prefix): country code first.
fn international(digits: &str) -> Result<PhoneNumber, String> {
    if digits.is_empty() || digits.starts_with('0') {
        return Err("no valid country code after the international prefix".to_owned());
    }
    // Without a default region phonenumber takes the national prefix rules
    // from the country code's own metadata (so `+44 (0)20…` works).
    match phonenumber::parse(None, format!("+{digits}")) {
        Ok(number) => accept(&number),
        Err(ParseError::InvalidCountryCode) => Err(format!(
            "unknown country code in +{}",
            &digits[..digits.len().min(3)]
        )),
        Err(ParseError::TooLong) => Err("too many digits".to_owned()),
        Err(_) => Err("too few digits".to_owned()),
    }
}

/// `digits` carry no international prefix: a national number of `region`,
/// or the region's country code followed by one (`48 601 234 567`).
fn national_full(meta: &Metadata, region: Region, digits: &str) -> Result<PhoneNumber, String> {
    let code = meta.country_code();
    let read = read_national(region, code, digits);
    if let Some(number) = read.as_ref().ok().filter(|n| n.is_valid()) {
        return accept(number);
    }
    // Not a valid national number: maybe the country code without a `+`.
    let code_digits = code.to_string();
    let with_code = digits.len() > code_digits.len() && digits.starts_with(&code_digits);
    if let Some(Ok(number)) = with_code.then(|| international(digits)) {
        return Ok(number);
    }
    let name = region.as_ref();
    if digits.starts_with('0')
        && meta.national_prefix().is_none()
        && read_national(region, code, &digits[1..]).is_ok_and(|n| n.is_valid())
    {
        return Err(format!("numbers in {name} have no leading 0"));
    }
    let nsn_len = match &read {
        Ok(number) => national_len(number),
        Err(_) => digits.len(),
    };
    Err(invalid_reason(code, nsn_len, name))
}

/// Reads `digits` as a national number of `region` (country code `code`),
/// applying its national prefix rules but never taking leading digits for a
/// country code. (`phonenumber::parse(Some(region), digits)` strips a leading
/// country code even from valid national numbers; with a `phone-context` the
/// country code is given, while the national prefix rules still come from
/// the default region.)
fn read_national(
    region: Region,
    code: u16,
    digits: &str,
) -> Result<phonenumber::PhoneNumber, ParseError> {
    phonenumber::parse(Some(region), format!("tel:{digits};phone-context=+{code}"))
}

fn national_len(number: &phonenumber::PhoneNumber) -> usize {
    let nsn = number.national();
    usize::from(nsn.zeros()) + digit_count(nsn.value()) as usize
}

/// Why a national number of `nsn_len` digits under `code` is invalid,
/// judged by the lengths of ordinary (fixed-line and mobile) numbers.
fn invalid_reason(code: u16, nsn_len: usize, name: &str) -> String {
    let metas = DATABASE.by_code(&code).unwrap_or_default();
    let lengths_of = |kinds: &[Type]| -> Vec<usize> {
        metas
            .iter()
            .flat_map(|meta| {
                kinds
                    .iter()
                    .filter_map(|&kind| meta.descriptors().get(kind))
            })
            .flat_map(|desc| desc.possible_length().iter().map(|&len| usize::from(len)))
            .collect()
    };
    let mut lengths = lengths_of(&[Type::FixedLine, Type::Mobile]);
    if lengths.is_empty() {
        lengths = lengths_of(&VALID_TYPES);
    }
    let max = lengths.iter().copied().max().unwrap_or(0);
    if lengths.contains(&nsn_len) {
        format!("not a valid number for {name}")
    } else if nsn_len < max {
        format!("too few digits for {name}")
    } else {
        format!("too many digits for {name}")
    }
}

/// A parsed number becomes a [`PhoneNumber`] if it is valid and fits E.164.
fn accept(number: &phonenumber::PhoneNumber) -> Result<PhoneNumber, String> {
    let code = number.code().value();
    if !number.is_valid() {
        let name = region_name(code);
        return Err(invalid_reason(code, national_len(number), &name));
    }
    let nsn_len = national_len(number) as u32;
    let total = digit_count(u64::from(code)) + nsn_len;
    if !(MIN_E164_DIGITS..=MAX_E164_DIGITS).contains(&total) {
        return Err(format!("{total} digits do not fit E.164"));
    }
    Ok(PhoneNumber(
        u64::from(code) * 10u64.pow(nsn_len) + number.national().value(),
    ))
}

/// `PL` for a country code of one region, `+44` for a shared one.
fn region_name(code: u16) -> String {
    match DATABASE.region(&code).as_deref() {
        Some([id]) if *id != "001" => (*id).to_owned(),
        _ => format!("+{code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    use NumberErrorKind::*;

    const PL: Region = Region::PL;

    fn ok(s: &'static str) -> Result<&'static str, NumberErrorKind> {
        Ok(s)
    }

    #[test]
    fn table() {
        let long_digits = format!("{} {}", "1".repeat(30), " ".repeat(40));
        let very_long = format!("601234567{}", " ".repeat(300));
        let rows: Vec<(&str, Region, Result<&str, NumberErrorKind>)> = vec![
            // International spellings.
            ("+48 601 234 567", PL, ok("+48601234567")),
            ("+48601234567", PL, ok("+48601234567")),
            ("0048601234567", PL, ok("+48601234567")),
            ("00 48 601 234 567", PL, ok("+48601234567")),
            ("(+48) 601 234 567", PL, ok("+48601234567")),
            ("+0048 601 234 567", PL, ok("+48601234567")),
            ("\u{FF0B}48 601 234 567", PL, ok("+48601234567")),
            // 11 digits starting 48 = international when region is PL.
            ("48601234567", PL, ok("+48601234567")),
            ("48 601 234 567", PL, ok("+48601234567")),
            // National spellings.
            ("601234567", PL, ok("+48601234567")),
            ("601-234-567", PL, ok("+48601234567")),
            ("601.234.567", PL, ok("+48601234567")),
            ("601 234 567", PL, ok("+48601234567")),
            ("(22) 123 45 67", PL, ok("+48221234567")),
            ("22/123-45-67", PL, ok("+48221234567")),
            ("  601 234 567  ", PL, ok("+48601234567")),
            ("601 234 567,", PL, ok("+48601234567")),
            // Radom (area code 48): 9 digits are national.
            ("48 362 12 34", PL, ok("+48483621234")),
            ("483012345", PL, ok("+48483012345")),
            ("48 48 362 12 34", PL, ok("+48483621234")),
            ("+48 48 362 12 34", PL, ok("+48483621234")),
            ("0048 48 301 23 45", PL, ok("+48483012345")),
            // Unicode spaces and digits.
            ("601\u{A0}234\u{A0}567", PL, ok("+48601234567")),
            ("601\u{2009}234\u{202F}567", PL, ok("+48601234567")),
            (
                "+48\u{3000}601\u{2007}234\u{205F}567",
                PL,
                ok("+48601234567"),
            ),
            (
                "\u{FF16}\u{FF10}\u{FF11}\u{FF12}\u{FF13}\u{FF14}\u{FF15}\u{FF16}\u{FF17}",
                PL,
                ok("+48601234567"),
            ),
            (
                "\u{666}\u{660}\u{661}\u{662}\u{663}\u{664}\u{665}\u{666}\u{667}",
                PL,
                ok("+48601234567"),
            ),
            ("601\u{2013}234\u{2013}567", PL, ok("+48601234567")),
            // tel: URIs.
            ("tel:+48-601-234-567", PL, ok("+48601234567")),
            ("TEL:+48-601-234-567", PL, ok("+48601234567")),
            ("tel:+48-601-234-567;ext=12", PL, ok("+48601234567")),
            ("tel:601-234-567;phone-context=+48", PL, ok("+48601234567")),
            (
                "tel:020-7946-0958;phone-context=+44",
                PL,
                ok("+442079460958"),
            ),
            ("tel:+48601234567;isub=12", PL, ok("+48601234567")),
            // Extensions are split off and ignored.
            ("601 234 567 wew. 12", PL, ok("+48601234567")),
            ("601 234 567 wew 12", PL, ok("+48601234567")),
            ("601 234 567 w. 12", PL, ok("+48601234567")),
            ("601 234 567 ext 12", PL, ok("+48601234567")),
            ("601 234 567 ext. 12", PL, ok("+48601234567")),
            ("601 234 567 EXT: 12", PL, ok("+48601234567")),
            ("601234567x12", PL, ok("+48601234567")),
            ("601234567 x 12", PL, ok("+48601234567")),
            ("601234567#12", PL, ok("+48601234567")),
            ("601234567;ext=12", PL, ok("+48601234567")),
            ("(22) 123 45 67 wewn. 123", PL, ok("+48221234567")),
            ("601234567 x", PL, Err(InvalidCharacter)),
            ("601234567 x 12345678901", PL, Err(InvalidCharacter)),
            ("tel:+48601234567;ext=1a", PL, Err(InvalidCharacter)),
            // No trunk 0 in Poland.
            ("0 601 234 567", PL, Err(InvalidForRegion)),
            ("0601234567", PL, Err(InvalidForRegion)),
            ("(0 22) 123 45 67", PL, Err(InvalidForRegion)),
            ("+48 0 601 234 567", PL, Err(InvalidForRegion)),
            // Letters are not digits.
            ("601-CALL-NOW", PL, Err(InvalidCharacter)),
            ("60l234567", PL, Err(InvalidCharacter)),
            ("6O1234567", PL, Err(InvalidCharacter)),
            ("tel 601234567", PL, Err(InvalidCharacter)),
            ("601234567\u{B2}", PL, Err(InvalidCharacter)),
            ("*100#", PL, Err(InvalidCharacter)),
            ("++48601234567", PL, Err(InvalidCharacter)),
            ("601234567+", PL, Err(InvalidCharacter)),
            // Two numbers.
            ("601234567, 602345678", PL, Err(MultipleNumbers)),
            ("601234567 / 602345678", PL, Err(MultipleNumbers)),
            ("601234567;602345678", PL, Err(MultipleNumbers)),
            ("601234567 602345678", PL, Err(MultipleNumbers)),
            ("601 234 567 602 345 678", PL, Err(MultipleNumbers)),
            ("+48601234567 +48602345678", PL, Err(MultipleNumbers)),
            ("601234567\n602345678", PL, Err(MultipleNumbers)),
            ("tel:+48601234567;+48602345678", PL, Err(MultipleNumbers)),
            // Empty, too long, not a number.
            ("", PL, Err(Empty)),
            (" \u{A0}\t ", PL, Err(Empty)),
            (long_digits.as_str(), PL, Err(TooLong)),
            (very_long.as_str(), PL, Err(TooLong)),
            ("---", PL, Err(NotANumber)),
            ("12", PL, Err(NotANumber)),
            ("tel:", PL, Err(NotANumber)),
            // Invalid lengths.
            ("601 234 56", PL, Err(InvalidForRegion)),
            ("601 234 5678", PL, Err(InvalidForRegion)),
            ("+48 601 234 56", PL, Err(InvalidForRegion)),
            ("123", PL, Err(InvalidForRegion)),
            ("+999 123 456 789", PL, Err(InvalidForRegion)),
            ("+1234567890123456", PL, Err(InvalidForRegion)),
            // Foreign numbers.
            ("+44 20 7946 0958", PL, ok("+442079460958")),
            ("+44 (0)20 7946 0958", PL, ok("+442079460958")),
            ("0044 20 7946 0958", PL, ok("+442079460958")),
            ("+1 201 555 0123", PL, ok("+12015550123")),
            ("+1 (201) 555-0123", PL, ok("+12015550123")),
            ("+49 30 12345678", PL, ok("+493012345678")),
            ("+351 21 123 4567", PL, ok("+351211234567")),
            ("+39 02 3661 8300", PL, ok("+390236618300")),
            // Other default regions.
            ("020 7946 0958", Region::GB, ok("+442079460958")),
            ("(201) 555-0123", Region::US, ok("+12015550123")),
            ("1-201-555-0123", Region::US, ok("+12015550123")),
            ("011 48 601 234 567", Region::US, ok("+48601234567")),
            ("030 12345678", Region::DE, ok("+493012345678")),
            ("21 123 4567", Region::PT, ok("+351211234567")),
            ("351 21 123 4567", Region::PT, ok("+351211234567")),
            ("02 3661 8300", Region::IT, ok("+390236618300")),
            ("601234567", Region::GB, Err(InvalidForRegion)),
        ];
        assert!(rows.len() >= 40);
        let mut failures = Vec::new();
        for (input, region, expected) in &rows {
            let got = PhoneNumber::parse(input, *region)
                .map(PhoneNumber::e164)
                .map_err(|e| e.kind);
            let want = expected.map(str::to_owned);
            if got != want {
                failures.push(format!(
                    "{input:?} ({region:?}): got {got:?}, want {want:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

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

    #[test]
    fn error_messages_name_the_input_and_the_problem() {
        let e = PhoneNumber::parse("601 234 56", PL).unwrap_err();
        assert_eq!(
            e.message,
            "\"601 234 56\" is not a valid phone number: too few digits for PL"
        );
        assert_eq!(e.to_string(), e.message);
        assert_eq!(e.input, "601 234 56");

        let e = PhoneNumber::parse("601234567, 602345678", PL).unwrap_err();
        assert_eq!(
            e.message,
            "\"601234567, 602345678\" contains more than one number"
        );

        let e = PhoneNumber::parse("601-CALL-NOW", PL).unwrap_err();
        assert_eq!(
            e.message,
            "\"601-CALL-NOW\" is not a valid phone number: unexpected character 'C'"
        );

        let e = PhoneNumber::parse("0601234567", PL).unwrap_err();
        assert_eq!(
            e.message,
            "\"0601234567\" is not a valid phone number: numbers in PL have no leading 0"
        );

        let e = PhoneNumber::parse("601 234 5678", PL).unwrap_err();
        assert!(
            e.message.ends_with("too many digits for PL"),
            "{}",
            e.message
        );

        let e = PhoneNumber::parse("+999 123 456 789", PL).unwrap_err();
        assert!(e.message.contains("unknown country code"), "{}", e.message);

        let e = PhoneNumber::parse("", PL).unwrap_err();
        assert_eq!(e.message, "\"\" is empty: expected a phone number");

        // Long input is quoted truncated; control characters are escaped.
        let long = format!("{}\n{}", "a".repeat(70), "b".repeat(300));
        let e = PhoneNumber::parse(&long, PL).unwrap_err();
        assert_eq!(e.kind, TooLong);
        assert_eq!(e.input, format!("{}…", "a".repeat(64)));
        assert_eq!(
            e.message,
            format!("\"{}…\" is too long to be a phone number", "a".repeat(64))
        );
        let e = PhoneNumber::parse("601\n\"x\"", PL).unwrap_err();
        assert!(
            e.message.starts_with("\"601\\n\\\"x\\\"\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn too_long_guard_counts_chars_and_digits() {
        // 64 chars of digits and spaces: fine length-wise (invalid number).
        let s = format!("{}{}", "6".repeat(21), " ".repeat(43));
        assert_ne!(PhoneNumber::parse(&s, PL).unwrap_err().kind, TooLong);
        // 65 chars with 21 digits: too long.
        let s = format!("{}{}", "6".repeat(21), " ".repeat(44));
        assert_eq!(PhoneNumber::parse(&s, PL).unwrap_err().kind, TooLong);
        // 200 chars with few digits: allowed.
        let s = format!("601 234 567{}", "\u{A0}".repeat(189));
        assert_eq!(PhoneNumber::parse(&s, PL).unwrap().e164(), "+48601234567");
        // 257 chars: too long whatever they are.
        let s = format!("601234567{}", "\u{A0}".repeat(248));
        assert_eq!(PhoneNumber::parse(&s, PL).unwrap_err().kind, TooLong);
    }

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
        let codes: Vec<u16> = DATABASE.iter().map(|m| m.country_code()).collect();
        for &a in &codes {
            for &b in &codes {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn unicode_digit_table() {
        assert!(UNICODE_ZEROS.windows(2).all(|w| w[0] + 10 <= w[1]));
        for zero in UNICODE_ZEROS {
            for d in 0..10u8 {
                let c = char::from_u32(zero + u32::from(d)).unwrap();
                assert!(c.is_numeric(), "{c:?}");
                assert_eq!(decimal_digit(c), Some(d), "{c:?}");
            }
        }
        for c in ['\u{B2}', '\u{2460}', '\u{BD}', 'a', '\u{FF21}', '\u{2169}'] {
            assert_eq!(decimal_digit(c), None, "{c:?}");
        }
    }

    // ---- property test: every spelling gives the same number ----

    /// A valid number: home region, country code, national significant
    /// number, trunk prefix used nationally, length of the area code.
    #[derive(Debug, Clone)]
    struct Sample {
        home: Region,
        code: &'static str,
        nsn: String,
        trunk: &'static str,
        area_len: usize,
    }

    const MOBILE_PREFIXES: [&str; 13] = [
        "45", "50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88",
    ];
    const AREA_CODES: [&str; 49] = [
        "12", "13", "14", "15", "16", "17", "18", "22", "23", "24", "25", "26", "29", "32", "33",
        "34", "41", "42", "43", "44", "46", "48", "52", "54", "55", "56", "58", "59", "61", "62",
        "63", "65", "67", "68", "71", "74", "75", "76", "77", "81", "82", "83", "84", "85", "86",
        "87", "89", "91", "94",
    ];
    const FOREIGN: [(Region, &str, &str, &str, usize); 9] = [
        (Region::GB, "44", "2079460958", "0", 2),
        (Region::GB, "44", "7912345678", "0", 4),
        (Region::US, "1", "2015550123", "1", 3),
        (Region::US, "1", "6502530000", "1", 3),
        (Region::DE, "49", "3012345678", "0", 2),
        (Region::PT, "351", "211234567", "", 2),
        (Region::IT, "39", "0236618300", "", 2),
        (Region::FR, "33", "612345678", "0", 1),
        (Region::CZ, "420", "601123456", "", 3),
    ];

    fn sample() -> impl Strategy<Value = Sample> {
        let pl = |nsn: String, area_len| Sample {
            home: PL,
            code: "48",
            nsn,
            trunk: "",
            area_len,
        };
        let mobile = (select(MOBILE_PREFIXES.to_vec()), 0u32..10_000_000)
            .prop_map(move |(p, rest)| pl(format!("{p}{rest:07}"), 3));
        let landline = (
            select(AREA_CODES.to_vec()),
            select(vec![0u8, 2, 3, 4, 5, 6, 7, 8, 9]),
            0u32..1_000_000,
        )
            .prop_map(move |(a, d, rest)| pl(format!("{a}{d}{rest:06}"), 2));
        let radom = (select(vec![0u8, 2, 3, 4, 5, 6, 7, 8, 9]), 0u32..1_000_000)
            .prop_map(move |(d, rest)| pl(format!("48{d}{rest:06}"), 2));
        let foreign =
            select(FOREIGN.to_vec()).prop_map(|(home, code, nsn, trunk, area_len)| Sample {
                home,
                code,
                nsn: nsn.to_owned(),
                trunk,
                area_len,
            });
        prop_oneof![3 => mobile, 3 => landline, 2 => radom, 2 => foreign]
    }

    const SEPARATORS: [&str; 11] = [
        " ", "-", ".", "\u{A0}", "\u{2009}", "\u{202F}", "", " - ", "  ", "/", "\u{2013}",
    ];
    const EXTENSIONS: [&str; 12] = [
        "",
        " wew. 12",
        " wew 12",
        " w. 12",
        " ext 12",
        " ext. 12",
        "x12",
        " x 12",
        "#12",
        ";ext=12",
        " #",
        " WEWN. 345",
    ];

    /// How to spell a sample.
    #[derive(Debug, Clone)]
    struct Style {
        prefix: u8,
        own_region: bool,
        groups: Vec<usize>,
        separators: Vec<usize>,
        parens: bool,
        tel: bool,
        extension: usize,
        fullwidth: u64,
    }

    fn style() -> impl Strategy<Value = Style> {
        (
            0u8..7,
            any::<bool>(),
            proptest::collection::vec(1usize..=4, 16),
            proptest::collection::vec(0..SEPARATORS.len(), 17),
            any::<bool>(),
            prop::bool::weighted(0.2),
            0..EXTENSIONS.len(),
            prop_oneof![3 => Just(0u64), 1 => any::<u64>(), 1 => Just(u64::MAX)],
        )
            .prop_map(
                |(prefix, own_region, groups, separators, parens, tel, extension, fullwidth)| {
                    Style {
                        prefix,
                        own_region,
                        groups,
                        separators,
                        parens,
                        tel,
                        extension,
                        fullwidth,
                    }
                },
            )
    }

    /// Spells `s` in `style`; returns the text and the region to parse it in.
    fn render(s: &Sample, style: &Style) -> (String, Region) {
        let mut seps = style.separators.iter().map(|&i| SEPARATORS[i]).cycle();
        let mut sizes = style.groups.iter().copied().cycle();
        let intl_region = if style.own_region { s.home } else { PL };
        let code = s.code;
        // (prefix, whether the trunk prefix is dialled, region)
        let (prefix, trunk, region) = match style.prefix {
            0 => (format!("+{code}"), "", intl_region),
            1 => (format!("00{code}"), "", intl_region),
            2 if code == "48" => ("48".to_owned(), "", PL),
            3 => (String::new(), s.trunk, s.home),
            4 => (format!("(+{code})"), "", intl_region),
            5 if s.trunk == "0" => (format!("+{code} (0)"), "", intl_region),
            6 if code == "1" => ("011 1".to_owned(), "", Region::US),
            _ => (format!("+{code}"), "", intl_region),
        };
        let mut out = String::new();
        if style.tel {
            out.push_str("tel:");
        }
        if !prefix.is_empty() {
            out.push_str(&prefix);
            out.push_str(seps.next().unwrap_or(" "));
        }
        let mut rest = s.nsn.as_str();
        if style.parens {
            let (area, tail) = rest.split_at(s.area_len);
            if trunk == "0" {
                out.push_str(&format!("(0{area})"));
            } else {
                if !trunk.is_empty() {
                    out.push_str(trunk);
                    out.push_str(seps.next().unwrap_or(" "));
                }
                out.push_str(&format!("({area})"));
            }
            out.push_str(seps.next().unwrap_or(" "));
            rest = tail;
        } else if !trunk.is_empty() {
            out.push_str(trunk);
            out.push_str(seps.next().unwrap_or(" "));
        }
        while !rest.is_empty() {
            let (group, tail) = rest.split_at(sizes.next().unwrap_or(3).min(rest.len()));
            out.push_str(group);
            if !tail.is_empty() {
                out.push_str(seps.next().unwrap_or(" "));
            }
            rest = tail;
        }
        out.push_str(EXTENSIONS[style.extension]);
        let text = out
            .chars()
            .enumerate()
            .map(|(i, c)| match c.to_digit(10) {
                Some(d) if style.fullwidth & (1 << (i % 64)) != 0 => {
                    char::from_u32(0xFF10 + d).unwrap_or(c)
                }
                _ => c,
            })
            .collect();
        (text, region)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2500))]

        #[test]
        fn every_spelling_gives_the_canonical_number(s in sample(), st in style()) {
            let plain = format!("+{}{}", s.code, s.nsn);
            let canonical = PhoneNumber::parse(&plain, PL);
            prop_assert!(canonical.is_ok(), "{plain}: {canonical:?}");
            let canonical = canonical.unwrap();
            prop_assert_eq!(canonical.e164(), plain.clone());
            prop_assert_eq!(canonical.country_code().to_string(), s.code);
            prop_assert_eq!(canonical.national(), s.nsn.clone());
            // The bare national form in the home region is the same number.
            prop_assert_eq!(PhoneNumber::parse(&format!("{}{}", s.trunk, s.nsn), s.home), Ok(canonical));
            let (text, region) = render(&s, &st);
            prop_assert_eq!(PhoneNumber::parse(&text, region), Ok(canonical), "{:?} in {:?}", text, region);
        }
    }
}
