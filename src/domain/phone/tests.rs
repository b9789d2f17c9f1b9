//! How inputs are read: the table of spellings and errors.

use super::*;

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
        // Invisible direction marks that copy-paste brings along.
        ("\u{200E}+48 601 234 567", PL, ok("+48601234567")),
        ("\u{200F}601 234 567\u{200F}", PL, ok("+48601234567")),
        ("\u{2066}+48 601 234 567\u{2069}", PL, ok("+48601234567")),
        ("\u{2067}601\u{2068}234\u{2069}567", PL, ok("+48601234567")),
        ("\u{061C}(22) 123 45 67", PL, ok("+48221234567")),
        ("601234567\u{200E}602345678", PL, Err(MultipleNumbers)),
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
        // A pattern must match the whole number: `30` + 5 digits is a Polish
        // number, 9 digits starting 30 are not, although 9 is a Polish length.
        ("3000944", PL, ok("+483000944")),
        ("300094417", PL, Err(InvalidForRegion)),
        ("+48 300 094 417", PL, Err(InvalidForRegion)),
        ("48300094417", PL, Err(InvalidForRegion)),
        ("0048 300 094 417", PL, Err(InvalidForRegion)),
        ("+86 10 1234 5678", PL, ok("+861012345678")),
        ("+86 10 1234 5678 2", PL, Err(InvalidForRegion)),
        ("+6323234567", PL, Err(InvalidForRegion)),
        ("+35322123457", PL, Err(InvalidForRegion)),
        // A national prefix after the country code is stripped only when what
        // is left is still a number (libphonenumber's rule): Russian, Belarusian
        // and Lithuanian toll-free numbers start with the national prefix 8.
        ("+7 800 123-45-67", PL, ok("+78001234567")),
        ("+7 8 800 123 45 67", PL, ok("+78001234567")),
        ("8 800 123 45 67", Region::RU, ok("+78001234567")),
        ("8 (800) 123-45-67", Region::KZ, ok("+78001234567")),
        ("+375 800 123 4567", PL, ok("+3758001234567")),
        ("+375 801 123 4567", PL, ok("+3758011234567")),
        ("8 801 123 4567", Region::BY, ok("+3758011234567")),
        ("+370 800 12345", PL, ok("+37080012345")),
        ("+370 801 12345", PL, ok("+37080112345")),
        ("+370 808 12345", PL, ok("+37080812345")),
        ("8 800 12345", Region::LT, ok("+37080012345")),
        ("+1 1 201 555 0123", PL, ok("+12015550123")),
        ("+1 (1) 268 460 1234", PL, ok("+12684601234")),
        // A national prefix rewritten by the metadata's transform rule.
        ("011 15 1234 5678", Region::AR, ok("+5491112345678")),
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
