//! API key roles. They nest: every role may do what the roles below it may.

use serde::{Deserialize, Serialize};

words! {
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
    pub enum Role ("a role") {
        /// May ask whether a number may be called.
        Dialer = "dialer",
        /// May add and read do-not-call entries.
        Agent = "agent",
        /// May upload and inspect registry data.
        Ops = "ops",
        /// May remove entries and manage keys.
        Admin = "admin",
    }
}

impl Role {
    /// Whether a key of this role may do what `required` may.
    pub fn allows(self, required: Role) -> bool {
        self >= required
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
