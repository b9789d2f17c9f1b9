//! Reading the digits by the `phonenumber` crate's metadata, the way
//! libphonenumber reads them: international and national prefixes, country
//! codes, and whether the digits form a valid number (by `rules`).

use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::Type;

use super::rules::{self, is_valid, VALID_TYPES};
use super::scan::Scan;
use super::{digit_count, PhoneNumber, Region, MAX_E164_DIGITS, MIN_E164_DIGITS};

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

/// `digits` follow a `+` (or an international prefix): country code first,
/// then a national number read by the rules of the code's main region (so
/// `+44 (0)20…` loses its 0 and `+7 800…` keeps its 8).
fn international(digits: &str) -> Result<PhoneNumber, String> {
    if digits.is_empty() || digits.starts_with('0') {
        return Err("no valid country code after the international prefix".to_owned());
    }
    // Country codes are prefix-free: the first known one is the one.
    for len in 1..=digits.len().min(3) {
        let Ok(code) = digits[..len].parse::<u16>() else {
            break;
        };
        if let Some(rules) = rules::of_code(code) {
            return accept(code, &rules.national_number(&digits[len..]));
        }
    }
    Err(format!(
        "unknown country code in +{}",
        &digits[..digits.len().min(3)]
    ))
}

/// `digits` carry no international prefix: a national number of `region`,
/// or the region's country code followed by one (`48 601 234 567`).
pub(super) fn national_full(
    meta: &Metadata,
    region: Region,
    digits: &str,
) -> Result<PhoneNumber, String> {
    let code = meta.country_code();
    let Some(rules) = rules::of_region(meta) else {
        return Err(format!("no metadata for region {}", region.as_ref()));
    };
    let nsn = rules.national_number(digits);
    if is_valid(code, &nsn) {
        return accept(code, &nsn);
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
        && is_valid(code, &rules.national_number(&digits[1..]))
    {
        return Err(format!("numbers in {name} have no leading 0"));
    }
    Err(invalid_reason(code, nsn.len(), name))
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

/// A national significant number under `code` becomes a [`PhoneNumber`] if
/// it is valid and the whole fits E.164.
fn accept(code: u16, nsn: &str) -> Result<PhoneNumber, String> {
    if !is_valid(code, nsn) {
        return Err(invalid_reason(code, nsn.len(), &region_name(code)));
    }
    let total = digit_count(u64::from(code)) as usize + nsn.len();
    if !(MIN_E164_DIGITS as usize..=MAX_E164_DIGITS as usize).contains(&total) {
        return Err(format!("{total} digits do not fit E.164"));
    }
    // At most 15 ASCII digits (valid patterns match digits only): fits u64.
    let value: u64 = nsn.parse().map_err(|_| format!("{nsn:?} is not digits"))?;
    let len = u32::try_from(nsn.len()).unwrap_or(u32::MAX);
    Ok(PhoneNumber(u64::from(code) * 10u64.pow(len) + value))
}

/// `PL` for a country code of one region, `+44` for a shared one.
fn region_name(code: u16) -> String {
    match DATABASE.region(&code).as_deref() {
        Some([id]) if *id != "001" => (*id).to_owned(),
        _ => format!("+{code}"),
    }
}
