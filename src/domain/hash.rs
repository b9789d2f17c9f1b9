//! Hashed registries: some registries (Spain's Lista Robinson, for one) publish SHA-256
//! hashes of numbers instead of the numbers. A hashed list names the pre-image scheme;
//! we keep the first 8 bytes of each hash and look a number up by hashing it the same way.
//!
//! 64 bits of SHA-256 are plenty: with 250 million members the chance that a number not
//! on the list collides with one that is is about 1 in 70 billion per lookup, and a
//! collision blocks a call rather than allowing one.

use sha2::{Digest, Sha256};

use super::PhoneNumber;

words! {
    /// What string of a number is hashed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum HashScheme ("a hash scheme") {
        /// E.164 digits without the plus: `48512345678` (the default).
        E164Digits = "e164_digits",
        /// E.164 with the plus: `+48512345678`.
        E164Plus = "e164_plus",
        /// The national significant number: `512345678`.
        National = "national",
    }
}

impl HashScheme {
    /// The key under which `number` is a member of a list hashed with this scheme.
    pub fn key(self, number: PhoneNumber) -> u64 {
        let preimage = match self {
            HashScheme::E164Digits => number.digits().to_string(),
            HashScheme::E164Plus => number.e164(),
            HashScheme::National => number.national(),
        };
        prefix(&Sha256::digest(preimage.as_bytes()))
    }
}

/// The key of a hash written as 64 hex digits (either case), or `None` if it is not one.
pub fn key_of_hex(hex: &str) -> Option<u64> {
    let hex = hex.as_bytes();
    if hex.len() != 64 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let text = std::str::from_utf8(&hex[..16]).ok()?;
    u64::from_str_radix(text, 16).ok()
}

/// A file's checksum as it is stored, compared and shown: the SHA-256 of the bytes
/// `hasher` has seen, in lowercase hex.
pub fn checksum(hasher: Sha256) -> String {
    hex(&hasher.finalize())
}

/// `bytes` as lowercase hex digits, two a byte. (By table: receipts write a few hashes
/// per `/check` answer.)
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn prefix(hash: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Region;

    // Computed with `printf %s 48512345678 | sha256sum` and so on.
    const DIGITS: &str = "10056dd3f796b0c08a6000347953e20ec0cd521beb1261246cc231f35bd12718";
    const PLUS: &str = "499691ac10d7084a1f493549349aa389ddf4c6c4224fab1a6db57819e839e0f6";
    const NATIONAL: &str = "86c19fb10ffb8eaeeea04aaeb06873b6118c5276eb0d593d204a88887700f4b7";

    #[test]
    fn each_scheme_hashes_its_own_spelling() {
        let n = PhoneNumber::parse("512 345 678", Region::PL).unwrap();
        assert_eq!(HashScheme::E164Digits.key(n), 0x10056dd3f796b0c0);
        assert_eq!(Some(HashScheme::E164Digits.key(n)), key_of_hex(DIGITS));
        assert_eq!(Some(HashScheme::E164Plus.key(n)), key_of_hex(PLUS));
        assert_eq!(Some(HashScheme::National.key(n)), key_of_hex(NATIONAL));
        assert_ne!(HashScheme::E164Plus.key(n), HashScheme::E164Digits.key(n));
    }

    #[test]
    fn hex_keys_ignore_case_and_refuse_anything_else() {
        assert_eq!(key_of_hex(&DIGITS.to_uppercase()), Some(0x10056dd3f796b0c0));
        assert_eq!(key_of_hex(&DIGITS[..63]), None);
        assert_eq!(key_of_hex(&format!("{}g", &DIGITS[..63])), None);
        assert_eq!(key_of_hex("48512345678"), None);
    }

    #[test]
    fn a_checksum_is_the_lowercase_hex_of_the_sha256() {
        let mut hasher = Sha256::new();
        hasher.update(b"48512");
        hasher.update(b"345678");
        assert_eq!(checksum(hasher), DIGITS);
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
    }

    #[test]
    fn schemes_round_trip_through_their_names() {
        for s in HashScheme::ALL {
            assert_eq!(s.as_str().parse::<HashScheme>(), Ok(s));
        }
        assert!("md5".parse::<HashScheme>().is_err());
    }
}
