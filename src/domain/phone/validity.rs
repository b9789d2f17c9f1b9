//! Validity by the `phonenumber` crate's metadata: international and
//! national prefixes, country codes, and whether the digits form a valid
//! number.

use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::{ParseError, Type};

use super::rules::is_valid;
use super::scan::Scan;
use super::{digit_count, PhoneNumber, Region, MAX_E164_DIGITS, MIN_E164_DIGITS};

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

/// Turns the scanned digits into a valid number, or says why not.
pub(super) fn resolve(scan: &Scan, region: Region) -> Result<PhoneNumber, String> {
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
pub(super) fn national_full(
    meta: &Metadata,
    region: Region,
    digits: &str,
) -> Result<PhoneNumber, String> {
    let code = meta.country_code();
    let read = read_national(region, code, digits);
    if let Some(number) = read.as_ref().ok().filter(|n| is_valid(code, &nsn(n))) {
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
        && read_national(region, code, &digits[1..]).is_ok_and(|n| is_valid(code, &nsn(&n)))
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

/// The national significant number, leading zeros (Italy) included.
fn nsn(number: &phonenumber::PhoneNumber) -> String {
    format!(
        "{:0width$}",
        number.national().value(),
        width = national_len(number)
    )
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
    if !is_valid(code, &nsn(number)) {
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
