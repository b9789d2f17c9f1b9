//! Client and campaign policies in memory: which calls need a consent, and for what.
//! A campaign's policy overrides its client's; a call that names no client is under no
//! policy.

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::Scope;
use crate::store::snapshot::PolicyRow;

/// A policy as `/check` applies it, with the names as they were written (for reasons).
#[derive(Debug, Clone)]
pub struct PolicyRule {
    pub client: Arc<str>,
    pub campaign: Option<Arc<str>>,
    pub consent_required: bool,
    pub purpose: Arc<str>,
}

#[derive(Debug, Default, Clone)]
struct ClientPolicies {
    own: Option<PolicyRule>,
    campaigns: HashMap<Arc<str>, PolicyRule>,
}

/// Every policy, by client key and campaign key.
#[derive(Debug, Default, Clone)]
pub struct Policies {
    clients: HashMap<Arc<str>, ClientPolicies>,
}

impl Policies {
    pub fn build(rows: Vec<PolicyRow>) -> Policies {
        let mut clients: HashMap<Arc<str>, ClientPolicies> = HashMap::new();
        for row in rows {
            let rule = PolicyRule {
                client: row.client.into(),
                campaign: row.campaign.map(Into::into),
                consent_required: row.consent_required,
                purpose: row.purpose.into(),
            };
            let client = clients.entry(row.client_key.into()).or_default();
            match row.campaign_key {
                Some(key) => {
                    client.campaigns.insert(key.into(), rule);
                }
                None => client.own = Some(rule),
            }
        }
        Policies { clients }
    }

    /// The policy a call for `call` is under: its campaign's, else its client's, else
    /// none (always none without a client).
    pub fn for_call(&self, call: &Scope) -> Option<&PolicyRule> {
        if self.clients.is_empty() {
            return None;
        }
        let client = self.clients.get(call.client_key()?)?;
        call.campaign_key()
            .and_then(|k| client.campaigns.get(k))
            .or(client.own.as_ref())
    }

    pub fn len(&self) -> usize {
        self.clients
            .values()
            .map(|c| usize::from(c.own.is_some()) + c.campaigns.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(client: &str, campaign: Option<&str>, required: bool) -> PolicyRow {
        PolicyRow {
            client: client.into(),
            client_key: crate::domain::scope_key(client),
            campaign: campaign.map(Into::into),
            campaign_key: campaign.map(crate::domain::scope_key),
            consent_required: required,
            purpose: "marketing".into(),
        }
    }

    fn call(client: Option<&str>, campaign: Option<&str>) -> Scope {
        Scope::from_parts(client, campaign).unwrap()
    }

    #[test]
    fn a_campaign_overrides_its_client_and_no_client_means_no_policy() {
        let p = Policies::build(vec![
            row("ACME", None, true),
            row("ACME", Some("Service"), false),
            row("Beta", Some("Lato"), true),
        ]);
        let req = |c, k| p.for_call(&call(c, k)).map(|r| r.consent_required);
        assert_eq!(req(Some("acme"), None), Some(true));
        assert_eq!(req(Some("Acme"), Some("summer")), Some(true));
        assert_eq!(req(Some("acme"), Some("SERVICE")), Some(false));
        assert_eq!(req(Some("beta"), Some("lato")), Some(true));
        assert_eq!(req(Some("beta"), None), None);
        assert_eq!(
            req(None, Some("lato")),
            None,
            "a campaign without its client"
        );
        assert_eq!(req(None, None), None);
        assert_eq!(req(Some("gamma"), None), None);
        assert_eq!(p.len(), 3);
    }
}
