//! Pre-normalisation: one pass over the characters of an input, no
//! allocation, giving the number's ASCII digits and how they were written.

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
/// Two numbers glued together: each part has at least this many digits.
const MIN_SPLIT_DIGITS: usize = 7;

/// The cheap guard: the input is too long to bother with.
pub(super) fn too_long(input: &str) -> bool {
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
pub(super) fn decimal_digit(c: char) -> Option<u8> {
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
pub(super) fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || is_invisible(c)
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '[' | ']' | '/' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{FF08}'
                    | '\u{FF09}'
                    | '\u{FF0D}'
                    | '\u{FF0E}'
                    | '\u{FF0F}'
        )
}

/// Invisible characters that copy-paste brings along: the soft hyphen, the
/// zero-width ones, and the direction marks (LRM, RLM, ALM) and isolates
/// that text from a right-to-left context or a formatted document carries.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{061C}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{2060}' | '\u{2066}'
            ..='\u{2069}' | '\u{FEFF}'
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
pub(super) enum Problem {
    InvalidCharacter(char),
    MultipleNumbers,
    TooLong,
}

/// The result of pre-normalisation: the number's ASCII digits and how they
/// were written.
pub(super) struct Scan {
    pub(super) digits: [u8; MAX_SCAN_DIGITS],
    pub(super) len: usize,
    /// Written with a leading `+`.
    pub(super) plus: bool,
    /// Bit `k` set: a separator stood between digit `k - 1` and digit `k`.
    pub(super) boundaries: u64,
    /// Digits of a `tel:` URI's `phone-context=+…` parameter.
    pub(super) context: [u8; MAX_CONTEXT_DIGITS],
    pub(super) context_len: usize,
}

impl Scan {
    /// One pass over `input` (already trimmed and non-empty).
    pub(super) fn run(input: &str) -> Result<Scan, Problem> {
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

    pub(super) fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or_default()
    }

    pub(super) fn context(&self) -> &str {
        std::str::from_utf8(&self.context[..self.context_len]).unwrap_or_default()
    }

    /// A separator splits the digits into two runs that are each long enough
    /// to be a number of their own.
    pub(super) fn looks_like_two_numbers(&self) -> bool {
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

#[cfg(test)]
mod tests {
    use super::super::{NumberErrorKind::TooLong, PhoneNumber, Region};
    use super::*;

    const PL: Region = Region::PL;

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
}
