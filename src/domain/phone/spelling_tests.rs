//! Property test: every spelling of a number gives the same number.

use proptest::prelude::*;
use proptest::sample::select;

use super::*;

const PL: Region = Region::PL;

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
    "12", "13", "14", "15", "16", "17", "18", "22", "23", "24", "25", "26", "29", "32", "33", "34",
    "41", "42", "43", "44", "46", "48", "52", "54", "55", "56", "58", "59", "61", "62", "63", "65",
    "67", "68", "71", "74", "75", "76", "77", "81", "82", "83", "84", "85", "86", "87", "89", "91",
    "94",
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
    let foreign = select(FOREIGN.to_vec()).prop_map(|(home, code, nsn, trunk, area_len)| Sample {
        home,
        code,
        nsn: nsn.to_owned(),
        trunk,
        area_len,
    });
    prop_oneof![3 => mobile, 3 => landline, 2 => radom, 2 => foreign]
}

const SEPARATORS: [&str; 12] = [
    " ", "-", ".", "\u{A0}", "\u{2009}", "\u{202F}", "", " - ", "  ", "/", "\u{2013}", "\u{200E}",
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
            |(prefix, own_region, groups, separators, parens, tel, extension, fullwidth)| Style {
                prefix,
                own_region,
                groups,
                separators,
                parens,
                tel,
                extension,
                fullwidth,
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
