//! Times in requests, read as the API documents them: RFC 3339 (`2026-12-31T23:59:59Z`,
//! `2026-12-31T23:59:59.5+01:00`), nothing looser. chrono's own `Deserialize` also takes
//! `2026-1-1`, a space for the `T` and offsets without a colon; a time that could be
//! meant two ways must be refused, not guessed at.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Deserializer};

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

#[cfg(test)]
mod tests {
    use super::*;

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
