//! The differential test: tarcza against Google's libphonenumber.
//!
//! `tests/reference/corpus.jsonl.gz` holds a generated corpus (every Polish
//! prefix and number type in many spellings, example numbers and their
//! neighbours for every region, garbage) with libphonenumber's answer for
//! each line; `tests/reference/generate.py` writes it and CI regenerates it
//! with the pinned `phonenumbers` to prove the answers are libphonenumber's.
//!
//! Where tarcza reads differently on purpose, the difference is a named
//! [`Exception`] that cites its rule (README, "Checks"). Every other
//! disagreement counts against the target: no number that both accept with
//! different E.164 forms, and fewer than 0.1% disagreements overall.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::str::FromStr;

use super::*;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/reference/corpus.jsonl.gz"
);

/// One line of the corpus, with our answer.
struct Case {
    input: String,
    region: Region,
    family: String,
    /// libphonenumber's E.164 form, `None` when it finds no valid number.
    reference: Option<String>,
    /// libphonenumber's answer for the number the input spells under README's
    /// rules, written plainly (`+48…`), when the generator knows it.
    plain: Option<String>,
    ours: Result<PhoneNumber, NumberError>,
}

impl Case {
    fn ours_e164(&self) -> Option<String> {
        self.ours.as_ref().ok().map(|n| n.e164())
    }

    fn ours_kind(&self) -> Option<NumberErrorKind> {
        self.ours.as_ref().err().map(|e| e.kind)
    }

    /// We accept a number that libphonenumber finds valid when it is written
    /// plainly: the difference is only in how the input writes it.
    fn same_number_plainly(&self) -> bool {
        self.reference.is_none() && self.plain.is_some() && self.plain == self.ours_e164()
    }

    /// The input's decimal digits (the ones the generator writes).
    fn digits(&self) -> String {
        self.input.chars().filter_map(ascii_digit).collect()
    }

    fn written_with_plus(&self) -> bool {
        self.input.contains(['+', '\u{FF0B}'])
    }

    /// The character our error names (`unexpected character '*'`), when it
    /// is a visible one (invisible ones are quoted escaped: `'\u{200e}'`).
    fn rejected_char(&self) -> Option<char> {
        let message = &self.ours.as_ref().err()?.message;
        let (_, quoted) = message.split_once("unexpected character '")?;
        match quoted.as_bytes() {
            [b'\\', b'\'' | b'\\', ..] => quoted.chars().nth(1),
            [b'\\', ..] => None,
            _ => quoted.chars().next(),
        }
    }
}

fn ascii_digit(c: char) -> Option<char> {
    let zero = match c {
        '0'..='9' => '0',
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}',
        '\u{660}'..='\u{669}' => '\u{660}',
        _ => return None,
    };
    char::from_digit(u32::from(c) - u32::from(zero), 10)
}

/// Characters libphonenumber takes for punctuation between digits
/// (`VALID_PUNCTUATION`); we read every Unicode space, dash and invisible mark.
const REFERENCE_PUNCTUATION: &str = "-x\u{2010}\u{2011}\u{2012}\u{2013}\u{2014}\u{2015}\u{2212}\u{30FC}\u{FF0D}\u{FF0E}\u{FF0F} \u{A0}\u{AD}\u{200B}\u{2060}\u{3000}()\u{FF08}\u{FF09}\u{FF3B}\u{FF3D}.[]/~\u{2053}\u{223C}\u{FF5E}";

/// A deliberate difference from libphonenumber. Each is a rule of README
/// "Checks"; a disagreement it does not explain is a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Exception {
    /// "Letters … are errors, never guesses": libphonenumber reads vanity
    /// letters as digits (`601-CALL-NOW`) and skips a stray one (`60l234567`).
    Letters,
    /// "Two numbers in one field … are errors": libphonenumber reads the first.
    TwoNumbers,
    /// Any other visible character that has no place in a number (`*`, `=`,
    /// `'`, a `+` after digits) is an error naming it; libphonenumber skips
    /// some.
    StrayCharacter,
    /// "A leading trunk 0 on a Polish number" is an error.
    TrunkZero,
    /// "A 9-digit Polish number is national even when it starts with 48".
    Radom,
    /// "48601234567 (11 digits starting 48)" is +48 601 234 567.
    ElevenDigits48,
    /// "Non-breaking and other Unicode spaces", tabs and invisible marks
    /// separate digits; libphonenumber knows fewer separators
    /// ([`REFERENCE_PUNCTUATION`]) and rejects the spelling, not the number.
    Separators,
    /// Polish extension markers (`wew. 12`, `w. 12`) are split off;
    /// libphonenumber reads `wew` as vanity letters.
    PolishExtension,
    /// `00 48 …` in any region: 00 is read as the international prefix even
    /// where the region's own is another (`011` in the US, `810` in Russia).
    InternationalPrefix,
    /// E.164 numbers have 7 to 15 digits; libphonenumber also accepts a few
    /// shorter (Iranian 4-digit) and longer (German 16-17 digit) numbers.
    E164Length,
}

impl Exception {
    /// In the order they are tried: spellings before readings of the digits.
    const ALL: [Exception; 10] = [
        Exception::Letters,
        Exception::TwoNumbers,
        Exception::StrayCharacter,
        Exception::Separators,
        Exception::PolishExtension,
        Exception::InternationalPrefix,
        Exception::TrunkZero,
        Exception::Radom,
        Exception::ElevenDigits48,
        Exception::E164Length,
    ];

    /// Whether this rule explains why we and libphonenumber disagree on `case`.
    fn explains(self, case: &Case) -> bool {
        let we_reject = case.ours.is_err() && case.reference.is_some();
        let polish = case.region == Region::PL && !case.written_with_plus();
        match self {
            Exception::Letters => {
                we_reject && case.rejected_char().is_some_and(char::is_alphabetic)
            }
            Exception::TwoNumbers => {
                we_reject && case.ours_kind() == Some(NumberErrorKind::MultipleNumbers)
            }
            Exception::StrayCharacter => {
                we_reject && case.rejected_char().is_some_and(|c| !c.is_alphanumeric())
            }
            Exception::TrunkZero => {
                we_reject
                    && polish
                    && case.digits().starts_with('0')
                    && !case.digits().starts_with("00")
            }
            Exception::Radom => {
                let digits = case.digits();
                polish
                    && digits.len() == 9
                    && digits.starts_with("48")
                    && case.ours_e164() == Some(format!("+48{digits}"))
                    && case.same_number_plainly()
            }
            Exception::ElevenDigits48 => {
                let digits = case.digits();
                polish
                    && digits.len() == 11
                    && digits.starts_with("48")
                    && case.ours_e164() == Some(format!("+{digits}"))
                    && case.same_number_plainly()
            }
            Exception::Separators => {
                case.same_number_plainly()
                    && case.input.chars().any(|c| {
                        (c.is_whitespace() || c.is_control() || is_format_char(c))
                            && !REFERENCE_PUNCTUATION.contains(c)
                    })
            }
            Exception::PolishExtension => {
                let lower = case.input.to_lowercase();
                case.same_number_plainly() && (lower.contains("wew") || lower.contains(" w. "))
            }
            Exception::InternationalPrefix => {
                case.same_number_plainly()
                    && !case.written_with_plus()
                    && case.digits().starts_with("00")
            }
            Exception::E164Length => {
                we_reject
                    && case
                        .reference
                        .as_ref()
                        .is_some_and(|e164| !(8..=16).contains(&e164.len()))
            }
        }
    }
}

/// Invisible formatting characters (general category Cf) that turn up in
/// copied numbers.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{AD}' | '\u{61C}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// How a line compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Agree,
    Explained(Exception),
    /// Both accept, with different E.164 forms: never allowed.
    DifferentNumbers,
    /// We accept, libphonenumber finds no valid number, and no rule says why.
    OnlyWeAccept,
    /// libphonenumber accepts, we refuse, and no rule says why.
    OnlyReferenceAccepts,
}

fn outcome(case: &Case) -> Outcome {
    let ours = case.ours_e164();
    match (&ours, &case.reference) {
        (None, None) => return Outcome::Agree,
        (Some(a), Some(b)) if a == b => return Outcome::Agree,
        (Some(_), Some(_)) => return Outcome::DifferentNumbers,
        _ => {}
    }
    if let Some(rule) = Exception::ALL.into_iter().find(|e| e.explains(case)) {
        return Outcome::Explained(rule);
    }
    if ours.is_some() {
        Outcome::OnlyWeAccept
    } else {
        Outcome::OnlyReferenceAccepts
    }
}

fn read_corpus() -> Vec<Case> {
    let file = std::fs::File::open(CORPUS).unwrap_or_else(|e| panic!("{CORPUS}: {e}"));
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    reader
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.unwrap_or_else(|e| panic!("{CORPUS}:{}: {e}", i + 1));
            let (input, region, family, answer, plain): (String, String, String, String, String) =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{CORPUS}:{}: {e}", i + 1));
            let region = Region::from_str(&region)
                .unwrap_or_else(|_| panic!("{CORPUS}:{}: region {region}", i + 1));
            let e164 = |answer: String| answer.starts_with('+').then_some(answer);
            Case {
                ours: PhoneNumber::parse(&input, region),
                input,
                region,
                family,
                reference: e164(answer),
                plain: e164(plain),
            }
        })
        .collect()
}

#[test]
fn numbers_are_read_as_libphonenumber_reads_them_but_for_the_documented_rules() {
    let cases = read_corpus();
    assert!(cases.len() > 50_000, "{} lines", cases.len());

    // Every number we accept is canonical: its E.164 form reads back as itself.
    for case in &cases {
        if let Ok(n) = case.ours {
            assert_eq!(
                PhoneNumber::parse(&n.e164(), case.region),
                Ok(n),
                "{:?}",
                case.input
            );
        }
    }

    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut by_family: BTreeMap<(&str, Outcome), usize> = BTreeMap::new();
    let mut defects = Vec::new();
    for case in &cases {
        let outcome = outcome(case);
        *counts.entry(outcome).or_default() += 1;
        if outcome != Outcome::Agree {
            *by_family.entry((&case.family, outcome)).or_default() += 1;
        }
        if matches!(
            outcome,
            Outcome::DifferentNumbers | Outcome::OnlyWeAccept | Outcome::OnlyReferenceAccepts
        ) {
            defects.push(case);
        }
    }

    let total = cases.len();
    let mut report = format!("{total} lines\n");
    for (outcome, n) in &counts {
        let _ = writeln!(report, "  {outcome:?}: {n}");
    }
    let _ = writeln!(report, "by family:");
    for ((family, outcome), n) in &by_family {
        let _ = writeln!(report, "  {family} {outcome:?}: {n}");
    }
    let _ = writeln!(report, "first unexplained:");
    for case in defects.iter().take(20) {
        let _ = writeln!(
            report,
            "  {:?} in {:?}: libphonenumber {:?}, tarcza {:?}",
            case.input,
            case.region,
            case.reference,
            case.ours.as_ref().map(|n| n.e164()).map_err(|e| &e.message)
        );
    }
    println!("{report}");

    let different = counts.get(&Outcome::DifferentNumbers).copied().unwrap_or(0);
    assert_eq!(
        different, 0,
        "numbers both accept with different E.164 forms\n{report}"
    );
    // Under 0.1% unexplained disagreement.
    assert!(defects.len() * 1000 < total, "{report}");
}

#[test]
fn the_exception_rules_do_not_excuse_a_different_number() {
    // A rule only ever explains a spelling or a refusal: an input we accept as
    // another number than libphonenumber's plain reading is never excused.
    let case = |input: &str, reference: Option<&str>, plain: Option<&str>| Case {
        input: input.to_owned(),
        region: Region::PL,
        family: "unit".to_owned(),
        reference: reference.map(str::to_owned),
        plain: plain.map(str::to_owned),
        ours: PhoneNumber::parse(input, Region::PL),
    };
    // A thin space, but the number itself is wrong (the old too-lenient read).
    let wrong = Case {
        ours: Ok(PhoneNumber(48_300_094_417)),
        ..case("300\u{2009}094\u{2009}417", None, None)
    };
    assert_eq!(outcome(&wrong), Outcome::OnlyWeAccept);
    // The same number with a thin space, read plainly by libphonenumber.
    let spelled = case("601\u{2009}234\u{2009}567", None, Some("+48601234567"));
    assert_eq!(outcome(&spelled), Outcome::Explained(Exception::Separators));
    // Both accept, different numbers.
    let different = case("601234567", Some("+48601234568"), Some("+48601234568"));
    assert_eq!(outcome(&different), Outcome::DifferentNumbers);
    // We refuse a letter.
    let letter = case("60l234567", Some("+4860234567"), None);
    assert_eq!(outcome(&letter), Outcome::Explained(Exception::Letters));
}
