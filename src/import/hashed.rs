//! Reading `format=sha256` files: one 64-hex SHA-256 per line, optionally followed by an
//! operation (`<hash>;D`) for deltas, optionally under a header line.

use crate::domain::hash::key_of_hex;
use crate::domain::Op;

/// What one physical line of a hash list amounts to: `Ok(None)` is a blank line or the
/// header, `Ok(Some(..))` a row, `Err((reason, message))` a reject.
pub type HashLine = Result<Option<(u64, Op)>, (&'static str, String)>;

#[derive(Default)]
pub struct HashLines {
    /// Whether a non-blank line has been seen: only the first one may be a header.
    started: bool,
}

impl HashLines {
    /// Reads physical line `line_no` (1-based), without its `\n`.
    pub fn feed(&mut self, line_no: u64, raw: &[u8]) -> HashLine {
        let mut bytes = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line_no == 1 {
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(("invalid_utf8", "the line is not valid UTF-8".into()));
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let first = !std::mem::replace(&mut self.started, true);
        let mut fields = text.split([',', ';', '\t', '|']).map(str::trim);
        let hash = fields.next().unwrap_or_default();
        let hash = hash.trim_matches('"');
        let Some(key) = key_of_hex(hash) else {
            if first && !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(None); // a header such as `sha256;op`
            }
            return Err((
                "invalid_hash",
                "the line does not start with a SHA-256 hash (64 hex digits)".into(),
            ));
        };
        let op = match fields.next().map(|f| f.trim_matches('"')) {
            None | Some("") => Op::Add,
            Some(op) => op.parse().map_err(|message| ("invalid_op", message))?,
        };
        Ok(Some((key, op)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "10056dd3f796b0c08a6000347953e20ec0cd521beb1261246cc231f35bd12718";

    #[test]
    fn hashes_are_read_with_an_optional_header_and_operation() {
        let mut r = HashLines::default();
        assert_eq!(r.feed(1, b"\xef\xbb\xbfsha256;op\r"), Ok(None));
        assert_eq!(
            r.feed(2, H.as_bytes()),
            Ok(Some((0x10056dd3f796b0c0, Op::Add)))
        );
        assert_eq!(r.feed(3, b""), Ok(None));
        let del = format!("{};D", H.to_uppercase());
        assert_eq!(
            r.feed(4, del.as_bytes()),
            Ok(Some((0x10056dd3f796b0c0, Op::Remove)))
        );
        assert!(matches!(r.feed(5, b"hash"), Err(("invalid_hash", _))));
        assert!(matches!(
            r.feed(6, &H.as_bytes()[1..]),
            Err(("invalid_hash", _))
        ));
        let bad_op = format!("{H},x");
        assert!(matches!(
            r.feed(7, bad_op.as_bytes()),
            Err(("invalid_op", _))
        ));
    }

    #[test]
    fn a_plain_number_is_not_a_hash() {
        let mut r = HashLines::default();
        assert!(matches!(
            r.feed(1, b"48512345678"),
            Err(("invalid_hash", _))
        ));
        let mut r = HashLines::default();
        assert!(matches!(
            r.feed(1, &H.as_bytes()[2..]),
            Err(("invalid_hash", _))
        ));
    }
}
