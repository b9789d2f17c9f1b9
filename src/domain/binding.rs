//! Client-bound keys: a key bound to one client (and optionally campaigns of it) checks,
//! writes and reads only within that client. This is the one place that decides what a
//! bound caller's scope is; handlers ask it and never compare names themselves.

use super::scope::{Scope, ScopeError, ScopeName};

/// Most campaigns one key may be bound to.
pub const MAX_BOUND_CAMPAIGNS: usize = 100;

/// The client (and campaigns) a key is bound to. Names compare by their scope keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    client: ScopeName,
    /// Empty: every campaign of the client.
    campaigns: Vec<ScopeName>,
    may_block_global: bool,
}

/// Why a bound key may not do what it asked (a `403`). The message names only the key's
/// own client and what the request itself sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl Binding {
    /// A binding from a key's fields, by the rules of scope fields (trimmed, at most 200
    /// characters, no control characters, not blank); campaigns named twice count once.
    pub fn new(
        client: &str,
        campaigns: &[String],
        may_block_global: bool,
    ) -> Result<Binding, ScopeError> {
        let client = ScopeName::parse("client", client)?;
        if campaigns.len() > MAX_BOUND_CAMPAIGNS {
            return Err(ScopeError(format!(
                "{} campaigns; a key may be bound to at most {MAX_BOUND_CAMPAIGNS}",
                campaigns.len()
            )));
        }
        let mut names: Vec<ScopeName> = Vec::with_capacity(campaigns.len());
        for c in campaigns {
            let name = ScopeName::parse("campaigns", c)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(Binding {
            client,
            campaigns: names,
            may_block_global,
        })
    }

    pub fn client(&self) -> &ScopeName {
        &self.client
    }

    pub fn campaigns(&self) -> &[ScopeName] {
        &self.campaigns
    }

    pub fn may_block_global(&self) -> bool {
        self.may_block_global
    }

    fn is_client(&self, name: Option<&str>) -> bool {
        name == Some(self.client.key())
    }

    fn campaign_allowed(&self, campaign: &ScopeName) -> bool {
        self.campaigns.is_empty() || self.campaigns.contains(campaign)
    }

    /// The refusal of a request naming another client.
    pub fn other_client(&self) -> Refusal {
        Refusal(format!(
            "this key is bound to client {:?}: it cannot act for another client",
            self.client.as_str()
        ))
    }

    fn campaign_refused(&self, campaign: &ScopeName) -> Refusal {
        Refusal(format!(
            "this key is bound to client {:?} and some of its campaigns; campaign {:?} is \
             not one of them",
            self.client.as_str(),
            campaign.as_str()
        ))
    }

    /// The scope a check asked for `asked` is evaluated for: always this client. A
    /// request naming no client is this client's; one naming another is refused, and so
    /// is a campaign outside the key's campaigns (when it has some). Without a campaign
    /// the check is for the client alone (entries of its campaigns do not apply).
    pub fn check_scope(&self, asked: &Scope) -> Result<Scope, Refusal> {
        if asked.client_key().is_some() && !self.is_client(asked.client_key()) {
            return Err(self.other_client());
        }
        Ok(match asked {
            Scope::Campaign { campaign, .. } => {
                if !self.campaign_allowed(campaign) {
                    return Err(self.campaign_refused(campaign));
                }
                Scope::Campaign {
                    client: Some(self.client.clone()),
                    campaign: campaign.clone(),
                }
            }
            _ => Scope::Client {
                client: self.client.clone(),
            },
        })
    }

    /// Whether this key may write (add an entry, record a consent) in `scope`: its
    /// client's scope, a campaign of its client among its campaigns (when it has some),
    /// or global with `may_block_global`. A campaign without a client would apply to
    /// every client's campaign of that name: refused, the client must be named.
    pub fn may_write(&self, scope: &Scope) -> Result<(), Refusal> {
        match scope {
            Scope::Global if self.may_block_global => Ok(()),
            Scope::Global => Err(Refusal(format!(
                "this key is bound to client {:?}: name that client (a global entry needs \
                 a key created with may_block_global)",
                self.client.as_str()
            ))),
            Scope::Client { client } if self.is_client(Some(client.key())) => Ok(()),
            Scope::Campaign {
                client: Some(client),
                campaign,
            } if self.is_client(Some(client.key())) => {
                if self.campaign_allowed(campaign) {
                    Ok(())
                } else {
                    Err(self.campaign_refused(campaign))
                }
            }
            Scope::Campaign { client: None, .. } => Err(Refusal(format!(
                "this key is bound to client {:?}: name that client with the campaign",
                self.client.as_str()
            ))),
            _ => Err(self.other_client()),
        }
    }

    /// Whether this key may see data of `scope`: global data (its checks apply it
    /// anyway) and its client's, of any campaign; never another client's, nor a
    /// campaign entry that names no client.
    pub fn sees(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Global => true,
            _ => self.is_client(scope.client_key()),
        }
    }

    /// As [`Binding::sees`], for a client name alone (a consent's): only its own.
    pub fn sees_client(&self, client: &str) -> bool {
        self.is_client(Some(&super::scope_key(client.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(client: Option<&str>, campaign: Option<&str>) -> Scope {
        Scope::from_parts(client, campaign).unwrap()
    }

    fn acme(campaigns: &[&str], global: bool) -> Binding {
        let campaigns: Vec<String> = campaigns.iter().map(|c| c.to_string()).collect();
        Binding::new(" Acme ", &campaigns, global).unwrap()
    }

    #[test]
    fn a_check_is_always_for_the_bound_client() {
        let b = acme(&[], false);
        assert_eq!(b.check_scope(&Scope::Global), Ok(scope(Some("acme"), None)));
        assert_eq!(
            b.check_scope(&scope(Some("ACME"), None)),
            Ok(scope(Some("acme"), None))
        );
        assert_eq!(
            b.check_scope(&scope(None, Some("summer"))),
            Ok(scope(Some("acme"), Some("summer")))
        );
        let refused = b.check_scope(&scope(Some("globex"), None)).unwrap_err();
        assert!(refused.0.contains("Acme"), "{refused}");
        assert!(!refused.0.contains("globex"), "{refused}");
        assert!(b.check_scope(&scope(Some("globex"), Some("x"))).is_err());
    }

    #[test]
    fn campaigns_narrow_checks_and_writes() {
        let b = acme(&["summer", "SUMMER"], false);
        assert_eq!(b.campaigns().len(), 1);
        assert!(b.check_scope(&scope(None, Some("Summer"))).is_ok());
        assert!(b.check_scope(&scope(None, Some("winter"))).is_err());
        assert_eq!(b.check_scope(&Scope::Global), Ok(scope(Some("acme"), None)));
        assert!(b.may_write(&scope(Some("acme"), Some("summer"))).is_ok());
        assert!(b.may_write(&scope(Some("acme"), Some("winter"))).is_err());
        assert!(b.may_write(&scope(Some("acme"), None)).is_ok());
    }

    #[test]
    fn writes_stay_in_the_client_and_global_needs_the_flag() {
        let b = acme(&[], false);
        assert!(b.may_write(&scope(Some("acme"), None)).is_ok());
        assert!(b.may_write(&scope(Some("acme"), Some("x"))).is_ok());
        assert!(b.may_write(&Scope::Global).is_err());
        assert!(b.may_write(&scope(Some("globex"), None)).is_err());
        assert!(b.may_write(&scope(Some("globex"), Some("x"))).is_err());
        assert!(b.may_write(&scope(None, Some("x"))).is_err());
        assert!(acme(&[], true).may_write(&Scope::Global).is_ok());
        assert!(acme(&[], true)
            .may_write(&scope(Some("globex"), None))
            .is_err());
    }

    #[test]
    fn a_bound_key_sees_its_client_and_global_data_only() {
        let b = acme(&["summer"], false);
        assert!(b.sees(&Scope::Global));
        assert!(b.sees(&scope(Some("ACME"), None)));
        assert!(b.sees(&scope(Some("acme"), Some("winter"))));
        assert!(!b.sees(&scope(Some("globex"), None)));
        assert!(!b.sees(&scope(None, Some("summer"))));
        assert!(b.sees_client(" ACME"));
        assert!(!b.sees_client("globex"));
    }

    #[test]
    fn bad_bindings_are_refused() {
        assert!(Binding::new(" ", &[], false).is_err());
        assert!(Binding::new("acme", &[" ".into()], false).is_err());
        assert!(Binding::new("acme", &["a\u{7}".into()], false).is_err());
        let many: Vec<String> = (0..=MAX_BOUND_CAMPAIGNS).map(|i| i.to_string()).collect();
        assert!(Binding::new("acme", &many, false).is_err());
    }
}
