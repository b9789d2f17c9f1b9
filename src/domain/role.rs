//! API key roles. They nest: every role may do what the roles below it may.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May ask whether a number may be called.
    Dialer,
    /// May add and read do-not-call entries.
    Agent,
    /// May upload and inspect registry data.
    Ops,
    /// May remove entries and manage keys.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Dialer, Role::Agent, Role::Ops, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dialer => "dialer",
            Role::Agent => "agent",
            Role::Ops => "ops",
            Role::Admin => "admin",
        }
    }

    /// Whether a key of this role may do what `required` may.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected one of dialer, agent, ops, admin"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_from_dialer_to_admin() {
        assert!(Role::Admin.allows(Role::Dialer));
        assert!(Role::Ops.allows(Role::Agent));
        assert!(Role::Agent.allows(Role::Agent));
        assert!(!Role::Agent.allows(Role::Ops));
        assert!(!Role::Dialer.allows(Role::Agent));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
