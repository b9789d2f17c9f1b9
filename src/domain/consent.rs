//! Consents and the policies that require them: a person's documented permission for one
//! client to call them for one purpose, and whether a client (or one of its campaigns)
//! may call only numbers that gave one.
//!
//! [`NewConsent::new`] is the one place a consent's fields are judged, for the API and
//! for any bulk loader of CRM exports, so both accept and refuse the same records.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::{PhoneNumber, ScopeName};

/// Longest evidence reference or source, in characters (the database has the same limit).
pub const MAX_REFERENCE: usize = 500;
/// Longest note or withdrawal reason, in characters.
pub const MAX_NOTE: usize = 2000;
/// How far in the future `given_at` may be: clocks of CRMs and agents' machines differ.
pub const GIVEN_AT_SKEW: Duration = Duration::minutes(5);

/// What a consent was given for: a short lower-case word (`marketing`, `surveys`,
/// `debt_collection`). Compared exactly, after ASCII lower-casing of the input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Purpose(Arc<str>);

impl Purpose {
    /// The purpose of a call that names none: telephone marketing, the one the Polish
    /// law (and the opt-out registries) are about.
    pub const DEFAULT: &'static str = "marketing";

    pub fn parse(input: &str) -> Result<Purpose, ConsentError> {
        let p = input.trim().to_ascii_lowercase();
        let ok = (1..=64).contains(&p.len())
            && p.starts_with(|c: char| c.is_ascii_alphanumeric())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(ConsentError::new(
                "invalid_purpose",
                format!(
                    "purpose {:?} is not a purpose name: 1 to 64 letters, digits, _ . or -, \
                     starting with a letter or digit (e.g. marketing)",
                    head(input)
                ),
            ));
        }
        Ok(Purpose(p.into()))
    }

    pub fn marketing() -> Purpose {
        Purpose(Purpose::DEFAULT.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A consent field that cannot be accepted: a code for the API and a message that
/// names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConsentError {
    pub code: &'static str,
    pub message: String,
}

impl ConsentError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ConsentError {
        ConsentError {
            code,
            message: message.into(),
        }
    }
}

/// A consent to record, its fields judged (see [`NewConsent::new`]).
#[derive(Clone, Debug)]
pub struct NewConsent {
    pub number: PhoneNumber,
    pub client: ScopeName,
    pub purpose: Purpose,
    /// What proves it: a recording id, a form id, a signed document's reference.
    pub evidence: String,
    /// Where it came from: `agent`, `web_form`, `crm`, …
    pub source: String,
    pub note: Option<String>,
    pub given_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The raw fields of a consent, as a request or a row of an export has them.
pub struct ConsentFields<'a> {
    pub client: &'a str,
    pub purpose: &'a str,
    pub evidence: Option<&'a str>,
    pub source: Option<&'a str>,
    pub note: Option<&'a str>,
    pub given_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewConsent {
    /// Judges the fields of a consent of `number` at `now`: a client (named like DNC
    /// scopes), a purpose, an evidence reference and a source are required, `given_at`
    /// may not be in the future (beyond [`GIVEN_AT_SKEW`]), and `expires_at`, if
    /// given, must be after `given_at` and still ahead: a consent that has already
    /// ended proves nothing for a call made now.
    pub fn new(
        number: PhoneNumber,
        f: ConsentFields<'_>,
        now: DateTime<Utc>,
    ) -> Result<NewConsent, ConsentError> {
        let client = ScopeName::parse("client", f.client)
            .map_err(|e| ConsentError::new("invalid_client", e.0))?;
        let purpose = Purpose::parse(f.purpose)?;
        let evidence = required("evidence", f.evidence, MAX_REFERENCE)?;
        let source = required("source", f.source, MAX_REFERENCE)?;
        let note = text("note", f.note, MAX_NOTE)?;
        let given_at = f.given_at.ok_or_else(|| {
            ConsentError::new(
                "missing_field",
                "given_at is required: when the consent was given (RFC 3339)",
            )
        })?;
        if given_at > now + GIVEN_AT_SKEW {
            return Err(ConsentError::new(
                "invalid_given_at",
                format!("given_at {given_at} is in the future"),
            ));
        }
        if let Some(t) = f.expires_at {
            if t <= given_at {
                return Err(ConsentError::new(
                    "invalid_expires_at",
                    format!("expires_at {t} is not after given_at {given_at}"),
                ));
            }
            if t <= now {
                return Err(ConsentError::new(
                    "invalid_expires_at",
                    format!("expires_at {t} is in the past; such a consent proves nothing now"),
                ));
            }
        }
        // As stored (PostgreSQL keeps microseconds), so a repeated request compares equal.
        Ok(NewConsent {
            number,
            client,
            purpose,
            evidence,
            source,
            note,
            given_at: given_at.trunc_subsecs(6),
            expires_at: f.expires_at.map(|t| t.trunc_subsecs(6)),
        })
    }
}

fn required(field: &str, value: Option<&str>, max: usize) -> Result<String, ConsentError> {
    text(field, value, max)?.ok_or_else(|| {
        ConsentError::new(
            "missing_field",
            format!("{field} is required (a consent is only as good as its proof)"),
        )
    })
}

/// Limits count characters of the text as sent (as the API documents them), not trimmed.
fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ConsentError> {
    let sent = value.map_or(0, |v| v.chars().count());
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if sent > max {
        return Err(ConsentError::new(
            "invalid_field",
            format!("{field} is longer than {max} characters"),
        ));
    }
    if v.chars().any(|c| c == '\0') {
        return Err(ConsentError::new(
            "invalid_field",
            format!("{field} contains a NUL character"),
        ));
    }
    Ok(Some(v.to_string()))
}

/// The first 64 characters of `s`, for messages.
fn head(s: &str) -> &str {
    s.char_indices().nth(64).map_or(s, |(i, _)| &s[..i])
}

/// What a client, or a campaign of a client, requires of the numbers it calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A number without a valid consent of the client for `purpose` is blocked.
    pub consent_required: bool,
    /// The purpose of the client's (campaign's) calls: the consent it needs, and the one
    /// that may exempt a number from a registry.
    pub purpose: Purpose,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Region;

    fn number() -> PhoneNumber {
        PhoneNumber::parse("601234567", Region::PL).unwrap()
    }

    fn fields<'a>() -> ConsentFields<'a> {
        ConsentFields {
            client: "Acme",
            purpose: "Marketing",
            evidence: Some("rec-2291"),
            source: Some("agent"),
            note: None,
            given_at: Some(Utc::now() - Duration::days(1)),
            expires_at: None,
        }
    }

    #[test]
    fn a_complete_consent_is_accepted_and_its_names_normalised() {
        let c = NewConsent::new(number(), fields(), Utc::now()).unwrap();
        assert_eq!(c.purpose.as_str(), "marketing");
        assert_eq!(c.client.key(), "acme");
        assert_eq!(c.client.as_str(), "Acme");
    }

    #[test]
    fn each_missing_or_bad_field_is_named() {
        let now = Utc::now();
        let cases: Vec<(ConsentFields, &str, &str)> = vec![
            (
                ConsentFields {
                    client: " ",
                    ..fields()
                },
                "invalid_client",
                "client",
            ),
            (
                ConsentFields {
                    purpose: "direct marketing",
                    ..fields()
                },
                "invalid_purpose",
                "purpose",
            ),
            (
                ConsentFields {
                    evidence: None,
                    ..fields()
                },
                "missing_field",
                "evidence",
            ),
            (
                ConsentFields {
                    source: Some("  "),
                    ..fields()
                },
                "missing_field",
                "source",
            ),
            (
                ConsentFields {
                    given_at: None,
                    ..fields()
                },
                "missing_field",
                "given_at",
            ),
            (
                ConsentFields {
                    given_at: Some(now + Duration::hours(1)),
                    ..fields()
                },
                "invalid_given_at",
                "future",
            ),
            (
                ConsentFields {
                    expires_at: Some(now - Duration::days(2)),
                    ..fields()
                },
                "invalid_expires_at",
                "not after given_at",
            ),
            (
                ConsentFields {
                    expires_at: Some(now - Duration::minutes(1)),
                    ..fields()
                },
                "invalid_expires_at",
                "in the past",
            ),
        ];
        for (f, code, word) in cases {
            let e = NewConsent::new(number(), f, now).unwrap_err();
            assert_eq!(e.code, code, "{}", e.message);
            assert!(e.message.contains(word), "{}", e.message);
        }
        let long = "x".repeat(MAX_REFERENCE + 1);
        let e = NewConsent::new(
            number(),
            ConsentFields {
                evidence: Some(&long),
                ..fields()
            },
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_field");
    }

    #[test]
    fn purposes_are_short_lower_case_words() {
        assert_eq!(Purpose::parse(" MARKETING ").unwrap().as_str(), "marketing");
        assert_eq!(
            Purpose::parse("debt_collection").unwrap().as_str(),
            "debt_collection"
        );
        for bad in ["", "-x", "a b", "zgoda·marketing", &"x".repeat(65)] {
            assert!(Purpose::parse(bad).is_err(), "{bad}");
        }
    }
}
