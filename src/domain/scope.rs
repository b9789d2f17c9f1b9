//! Where a do-not-call entry applies: everywhere, for one client, or for one campaign.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use caseless::Caseless;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// Longest client or campaign identifier we accept, in characters as sent (the database
/// constraint counts the same characters, of the trimmed name).
pub const MAX_SCOPE_ID_LEN: usize = 200;

/// The key under which client and campaign names compare: Unicode canonical caseless
/// matching (NFD, full case folding), stored in NFC. "ACME", "Acme" and "acme" are one
/// client, so are "ŁÓDŹ" and "łódź", a composed "é" and "e" + U+0301, and, by full case
/// folding, "Straße" and "STRASSE" (matching more never unblocks anyone). Compatibility
/// forms stay apart: full-width "ＡＣＭＥ" is not "acme".
///
/// Migration 0004 defines the same function in SQL (`scope_key`, a table generated from
/// this one), and the unique index of active entries is built on it; tests/api/scopes.rs
/// checks that the two agree on every character that has a case folding.
pub fn scope_key(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    name.nfd().default_case_fold().nfc().collect()
}

/// A client or campaign name: the spelling it was given with, kept for display, and its
/// [`scope_key`], under which names compare (`==` and `Hash` use the key only).
#[derive(Clone, Debug)]
pub struct ScopeName {
    spelling: Arc<str>,
    key: Arc<str>,
}

impl ScopeName {
    fn new(spelling: &str) -> ScopeName {
        let spelling: Arc<str> = Arc::from(spelling);
        let key = scope_key(&spelling);
        let key = if *key == *spelling {
            spelling.clone()
        } else {
            Arc::from(key)
        };
        ScopeName { spelling, key }
    }

    /// A name on its own (a consent's client, a policy's client or campaign), by the
    /// rules of scope fields: trimmed, bounded, no control characters; blank is an error.
    pub fn parse(field: &str, value: &str) -> Result<ScopeName, ScopeError> {
        clean(field, Some(value))?.ok_or_else(|| ScopeError(format!("{field} is empty")))
    }

    /// The name as it was written.
    pub fn as_str(&self) -> &str {
        &self.spelling
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl PartialEq for ScopeName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for ScopeName {}

impl Hash for ScopeName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Client {
        client: ScopeName,
    },
    /// A campaign, optionally qualified by its client (campaign ids are often only unique
    /// within a client).
    Campaign {
        client: Option<ScopeName>,
        campaign: ScopeName,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScopeError(pub String);

impl Scope {
    /// Builds a scope from the optional `client` and `campaign` fields of a request.
    /// Blank identifiers count as absent.
    pub fn from_parts(client: Option<&str>, campaign: Option<&str>) -> Result<Scope, ScopeError> {
        let client = clean("client", client)?;
        let campaign = clean("campaign", campaign)?;
        Ok(match (client, campaign) {
            (None, None) => Scope::Global,
            (Some(client), None) => Scope::Client { client },
            (client, Some(campaign)) => Scope::Campaign { client, campaign },
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Client { .. } => "client",
            Scope::Campaign { .. } => "campaign",
        }
    }

    fn client_name(&self) -> Option<&ScopeName> {
        match self {
            Scope::Global => None,
            Scope::Client { client } => Some(client),
            Scope::Campaign { client, .. } => client.as_ref(),
        }
    }

    fn campaign_name(&self) -> Option<&ScopeName> {
        match self {
            Scope::Campaign { campaign, .. } => Some(campaign),
            _ => None,
        }
    }

    /// The client as written.
    pub fn client(&self) -> Option<&str> {
        self.client_name().map(ScopeName::as_str)
    }

    /// The campaign as written.
    pub fn campaign(&self) -> Option<&str> {
        self.campaign_name().map(ScopeName::as_str)
    }

    pub fn client_key(&self) -> Option<&str> {
        self.client_name().map(ScopeName::key)
    }

    pub fn campaign_key(&self) -> Option<&str> {
        self.campaign_name().map(ScopeName::key)
    }

    /// Whether an entry with this scope blocks a call made for `call` (the client and
    /// campaign the call is for, as a scope). Names compare by their [`scope_key`].
    pub fn applies_to(&self, call: &Scope) -> bool {
        match self {
            Scope::Global => true,
            Scope::Client { client } => call.client_key() == Some(client.key()),
            Scope::Campaign { client, campaign } => {
                call.campaign_key() == Some(campaign.key())
                    && client
                        .as_ref()
                        .is_none_or(|c| call.client_key() == Some(c.key()))
            }
        }
    }
}

fn clean(field: &str, value: Option<&str>) -> Result<Option<ScopeName>, ScopeError> {
    if value.is_some_and(|v| v.chars().count() > MAX_SCOPE_ID_LEN) {
        return Err(ScopeError(format!(
            "{field} is longer than {MAX_SCOPE_ID_LEN} characters"
        )));
    }
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().any(char::is_control) {
        return Err(ScopeError(format!("{field} contains control characters")));
    }
    Ok(Some(ScopeName::new(value)))
}

/// The JSON shape of a scope inside entries and reasons.
#[derive(Serialize)]
pub struct ScopeView<'a> {
    pub scope: &'static str,
    pub client: Option<&'a str>,
    pub campaign: Option<&'a str>,
}

impl<'a> From<&'a Scope> for ScopeView<'a> {
    fn from(scope: &'a Scope) -> Self {
        ScopeView {
            scope: scope.kind(),
            client: scope.client(),
            campaign: scope.campaign(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(client: Option<&str>, campaign: Option<&str>) -> Scope {
        Scope::from_parts(client, campaign).unwrap()
    }

    #[test]
    fn blank_fields_make_a_global_scope() {
        assert_eq!(Scope::from_parts(Some("  "), None), Ok(Scope::Global));
    }

    #[test]
    fn global_entries_apply_to_every_call() {
        let s = Scope::Global;
        assert!(s.applies_to(&scope(None, None)));
        assert!(s.applies_to(&scope(Some("acme"), Some("summer"))));
    }

    #[test]
    fn client_entries_apply_only_to_that_client() {
        let s = scope(Some("acme"), None);
        assert!(s.applies_to(&scope(Some("acme"), None)));
        assert!(s.applies_to(&scope(Some("acme"), Some("summer"))));
        assert!(!s.applies_to(&scope(Some("other"), None)));
        assert!(!s.applies_to(&scope(None, None)));
    }

    #[test]
    fn campaign_entries_apply_to_that_campaign_and_client() {
        let bare = scope(None, Some("summer"));
        assert!(bare.applies_to(&scope(Some("acme"), Some("summer"))));
        assert!(bare.applies_to(&scope(None, Some("summer"))));
        assert!(!bare.applies_to(&scope(Some("acme"), Some("winter"))));

        let qualified = scope(Some("acme"), Some("summer"));
        assert!(qualified.applies_to(&scope(Some("acme"), Some("summer"))));
        assert!(!qualified.applies_to(&scope(Some("other"), Some("summer"))));
        assert!(!qualified.applies_to(&scope(None, Some("summer"))));
    }

    #[test]
    fn names_compare_case_insensitively_and_unicode_normalised() {
        for (a, b) in [
            ("ACME", "acme"),
            ("Acme", "aCME"),
            ("ŁÓDŹ", "łódź"),
            ("Straße", "STRASSE"),
            ("Caf\u{e9}", "CAFE\u{301}"),
            ("ΣΊΣΥΦΟΣ", "σίσυφος"),
            ("ǄEMAL", "ǅemal"),
        ] {
            assert_eq!(scope_key(a), scope_key(b), "{a} / {b}");
            assert!(scope(Some(a), Some(b)).applies_to(&scope(Some(b), Some(a))));
        }
        assert_ne!(scope_key("acme"), scope_key("acne"));
        assert_ne!(
            scope_key("ＡＣＭＥ"),
            scope_key("acme"),
            "full-width stays apart"
        );
        // The key is NFC: composed, whatever the input was.
        assert_eq!(scope_key("E\u{301}"), "\u{e9}");
    }

    #[test]
    fn the_spelling_is_kept_for_display() {
        let s = scope(Some(" ŁÓDŹ Energia "), Some("Lato"));
        assert_eq!(s.client(), Some("ŁÓDŹ Energia"));
        assert_eq!(s.client_key(), Some("łódź energia"));
        assert_eq!(s.campaign(), Some("Lato"));
        assert_eq!(s.campaign_key(), Some("lato"));
    }

    #[test]
    fn overlong_or_control_identifiers_are_refused() {
        let long = "x".repeat(MAX_SCOPE_ID_LEN + 1);
        assert!(Scope::from_parts(Some(&long), None).is_err());
        // Characters, not bytes: 200 Polish letters are 400 bytes and fit.
        let polish = "ż".repeat(MAX_SCOPE_ID_LEN);
        assert!(Scope::from_parts(Some(&polish), None).is_ok());
        assert!(Scope::from_parts(None, Some("a\u{0}b")).is_err());
    }
}
