//! Where a do-not-call entry applies: everywhere, for one client, or for one campaign.

use std::sync::Arc;

use serde::Serialize;

/// Longest client or campaign identifier we accept (matches the database constraint).
pub const MAX_SCOPE_ID_LEN: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Client {
        client: Arc<str>,
    },
    /// A campaign, optionally qualified by its client (campaign ids are often only unique
    /// within a client).
    Campaign {
        client: Option<Arc<str>>,
        campaign: Arc<str>,
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

    pub fn client(&self) -> Option<&str> {
        match self {
            Scope::Global => None,
            Scope::Client { client } => Some(client),
            Scope::Campaign { client, .. } => client.as_deref(),
        }
    }

    pub fn campaign(&self) -> Option<&str> {
        match self {
            Scope::Campaign { campaign, .. } => Some(campaign),
            _ => None,
        }
    }

    /// Whether an entry with this scope blocks a call made for `client` / `campaign`.
    pub fn applies_to(&self, client: Option<&str>, campaign: Option<&str>) -> bool {
        match self {
            Scope::Global => true,
            Scope::Client { client: c } => client == Some(&**c),
            Scope::Campaign {
                client: c,
                campaign: k,
            } => campaign == Some(&**k) && c.as_deref().is_none_or(|c| client == Some(c)),
        }
    }
}

fn clean(field: &str, value: Option<&str>) -> Result<Option<Arc<str>>, ScopeError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_SCOPE_ID_LEN {
        return Err(ScopeError(format!(
            "{field} is longer than {MAX_SCOPE_ID_LEN} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ScopeError(format!("{field} contains control characters")));
    }
    Ok(Some(Arc::from(value)))
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

    #[test]
    fn blank_fields_make_a_global_scope() {
        assert_eq!(Scope::from_parts(Some("  "), None), Ok(Scope::Global));
    }

    #[test]
    fn global_entries_apply_to_every_call() {
        let s = Scope::Global;
        assert!(s.applies_to(None, None));
        assert!(s.applies_to(Some("acme"), Some("summer")));
    }

    #[test]
    fn client_entries_apply_only_to_that_client() {
        let s = Scope::from_parts(Some("acme"), None).unwrap();
        assert!(s.applies_to(Some("acme"), None));
        assert!(s.applies_to(Some("acme"), Some("summer")));
        assert!(!s.applies_to(Some("other"), None));
        assert!(!s.applies_to(None, None));
    }

    #[test]
    fn campaign_entries_apply_to_that_campaign_and_client() {
        let bare = Scope::from_parts(None, Some("summer")).unwrap();
        assert!(bare.applies_to(Some("acme"), Some("summer")));
        assert!(bare.applies_to(None, Some("summer")));
        assert!(!bare.applies_to(Some("acme"), Some("winter")));

        let qualified = Scope::from_parts(Some("acme"), Some("summer")).unwrap();
        assert!(qualified.applies_to(Some("acme"), Some("summer")));
        assert!(!qualified.applies_to(Some("other"), Some("summer")));
        assert!(!qualified.applies_to(None, Some("summer")));
    }

    #[test]
    fn overlong_or_control_identifiers_are_refused() {
        let long = "x".repeat(MAX_SCOPE_ID_LEN + 1);
        assert!(Scope::from_parts(Some(&long), None).is_err());
        assert!(Scope::from_parts(None, Some("a\u{0}b")).is_err());
    }
}
