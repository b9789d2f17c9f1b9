//! Times in requests, read as the API documents them: RFC 3339 (`2026-12-31T23:59:59Z`,
//! `2026-12-31T23:59:59.5+01:00`), nothing looser. chrono's own `Deserialize` also takes
//! `2026-1-1`, a space for the `T` and offsets without a colon; a time that could be
//! meant two ways must be refused, not guessed at.

//!
//! Times in answers are written as chrono's `Serialize` writes them; [`AnswerTime`] does
//! so for `/v1/check` without formatting the date again for every answer.

use std::cell::Cell;
use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")
        .expect("a valid pattern")
});

/// Reads `text` as an RFC 3339 time.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    let refused = || format!("{text:?} is not an RFC 3339 time (e.g. 2026-12-31T23:59:59Z)");
    if !RFC3339.is_match(text) {
        return Err(refused());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| refused())
}

/// `#[serde(default, deserialize_with = "time::optional")]` for an optional RFC 3339 time.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| parse(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// A time in an answer, written byte for byte as chrono's `Serialize` writes it (RFC 3339
/// in UTC, `Z`, with 0, 3, 6 or 9 fractional digits, as few as hold it exactly), but
/// with the date and time of day formatted once per second and per thread: each thread
/// keeps the text of the last second it wrote, keyed by that second, and writes only the
/// fraction. A time of another second (the next one, or an earlier one after the clock
/// went back) is formatted afresh, so no answer ever carries a text other than its own
/// time's.
#[derive(Clone, Copy, Debug)]
pub struct AnswerTime(pub DateTime<Utc>);

/// `YYYY-MM-DDThh:mm:ss`, as chrono writes it.
const SECOND_LEN: usize = 19;
/// The second's text, `.` and nine digits, `Z`.
const MAX_LEN: usize = SECOND_LEN + 11;

thread_local! {
    /// The second (Unix time) this thread last wrote, and its text.
    static LAST_SECOND: Cell<(i64, [u8; SECOND_LEN])> =
        const { Cell::new((i64::MIN, [0; SECOND_LEN])) };
}

impl AnswerTime {
    /// The text into `out`, and its length; `None` for a time chrono writes otherwise
    /// (a year outside 0000–9999, a leap second), which [`Serialize`] leaves to chrono.
    fn write(&self, out: &mut [u8; MAX_LEN]) -> Option<usize> {
        let second = self.0.timestamp();
        let nanos = self.0.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        let (cached, text) = LAST_SECOND.get();
        let text = if cached == second {
            text
        } else {
            let full = self
                .0
                .with_nanosecond(0)?
                .to_rfc3339_opts(SecondsFormat::Secs, true);
            let text: [u8; SECOND_LEN] = full.strip_suffix('Z')?.as_bytes().try_into().ok()?;
            LAST_SECOND.set((second, text));
            text
        };
        out[..SECOND_LEN].copy_from_slice(&text);
        let (digits, mut fraction) = match nanos {
            0 => (0, 0),
            n if n % 1_000_000 == 0 => (3, n / 1_000_000),
            n if n % 1_000 == 0 => (6, n / 1_000),
            n => (9, n),
        };
        let mut len = SECOND_LEN;
        if digits > 0 {
            out[len] = b'.';
            for digit in out[len + 1..=len + digits].iter_mut().rev() {
                *digit = b'0' + (fraction % 10) as u8;
                fraction /= 10;
            }
            len += 1 + digits;
        }
        out[len] = b'Z';
        Some(len + 1)
    }
}

impl Serialize for AnswerTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = [0; MAX_LEN];
        match self.write(&mut out) {
            // Only ASCII is written.
            Some(len) => serializer.serialize_str(std::str::from_utf8(&out[..len]).unwrap_or("")),
            None => self.0.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_writes(t: DateTime<Utc>) -> String {
        serde_json::to_string(&t).unwrap()
    }

    proptest::proptest! {
        /// In any order (later, earlier: a clock that went back), across second and
        /// millisecond boundaries, each time is written as chrono writes it.
        #[test]
        fn answer_times_are_written_as_chrono_writes_them(
            times in proptest::collection::vec(
                (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000, 0u8..4, 0i64..3),
                1..40,
            )
        ) {
            let mut previous: Option<i64> = None;
            for (second, nanos, round, near) in times {
                // Often the same or a neighbouring second, with round fractions.
                let second = match (previous, near) {
                    (Some(p), 0) => p,
                    (Some(p), 1) => p + 1,
                    (Some(p), 2) => p - 1,
                    _ => second,
                };
                previous = Some(second);
                let nanos = match round {
                    0 => 0,
                    1 => nanos / 1_000_000 * 1_000_000,
                    2 => nanos / 1_000 * 1_000,
                    _ => nanos,
                };
                let t = DateTime::from_timestamp(second, nanos).unwrap();
                proptest::prop_assert_eq!(
                    serde_json::to_string(&AnswerTime(t)).unwrap(),
                    chrono_writes(t)
                );
            }
        }
    }

    #[test]
    fn answer_times_outside_four_digit_years_are_left_to_chrono() {
        for t in [
            DateTime::from_timestamp(253_402_300_800, 5).unwrap(),
            DateTime::from_timestamp(-62_135_596_801, 0).unwrap(),
            DateTime::from_timestamp(-62_167_219_201, 120).unwrap(),
            Utc::now(),
        ] {
            assert_eq!(
                serde_json::to_string(&AnswerTime(t)).unwrap(),
                chrono_writes(t)
            );
        }
    }

    #[test]
    fn only_rfc_3339_is_read() {
        assert!(parse("2026-12-31T23:59:59Z").is_ok());
        assert!(parse("2026-12-31t23:59:59.125+01:00").is_ok());
        assert_eq!(
            parse("2026-12-31T23:59:59+01:00").unwrap().to_rfc3339(),
            "2026-12-31T22:59:59+00:00"
        );
        for loose in [
            "2026-1-1T00:00:00Z",
            "2026-12-31 23:59:59Z",
            "2026-12-31T23:59:59+0100",
            "2026-12-31T23:59:59",
            "2026-13-01T00:00:00Z",
            "\u{665}026-12-31T23:59:59Z",
        ] {
            assert!(parse(loose).is_err(), "{loose}");
        }
    }
}
