//! The words of the change feed and of webhooks: what happened to the list
//! ([`ChangeAction`]) and where a reader of the feed stands ([`Cursor`]).
//!
//! Every change is written in the transaction that makes it, stamped with the data
//! version that transaction took (`store::bump_version`, whose row lock makes versions
//! commit in order) and its position within that transaction. So `(version, seq)` is
//! commit order: a reader that has seen everything up to a cursor never meets a change
//! below it later, which a `bigserial` id would not promise (two transactions can commit
//! out of id order).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

words! {
    /// What a change did.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum ChangeAction ("a change type") {
        /// A do-not-call entry was made.
        DncAdd = "dnc.add",
        /// An entry's block was made longer (a re-add asking for more time).
        DncExtend = "dnc.extend",
        /// An entry's `expires_at` passed: it stopped blocking.
        DncExpire = "dnc.expire",
        /// An entry was deactivated by an admin, with a reason.
        DncRemove = "dnc.remove",
        /// A registry import went live (a new generation of the registry's members).
        RegistryImport = "registry.import",
    }
}

impl Serialize for ChangeAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A position in the change feed: after the change `seq` of the transaction that took
/// data version `version`. Shown to clients as 24 hex digits, opaque to them; the text
/// sorts as the positions do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cursor {
    pub version: i64,
    pub seq: i32,
}

impl Cursor {
    /// Before every change.
    pub const START: Cursor = Cursor { version: 0, seq: 0 };

    /// After every change of versions up to `version` (a transaction has fewer than
    /// `i32::MAX` changes).
    pub fn after_version(version: i64) -> Cursor {
        Cursor {
            version,
            seq: i32::MAX,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}{:08x}", self.version as u64, self.seq as u32)
    }
}

impl FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a cursor of this feed (use the `next` of an answer)");
        if s.len() != 24 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let version = u64::from_str_radix(&s[..16], 16).map_err(|_| bad())?;
        let seq = u32::from_str_radix(&s[16..], 16).map_err(|_| bad())?;
        match (i64::try_from(version), i32::try_from(seq)) {
            (Ok(version), Ok(seq)) if version >= 0 && seq >= 0 => Ok(Cursor { version, seq }),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_text() {
        for a in ChangeAction::ALL {
            assert_eq!(a.to_string().parse::<ChangeAction>(), Ok(a));
        }
        assert!("dnc.added".parse::<ChangeAction>().is_err());
    }

    #[test]
    fn cursors_are_opaque_text_that_sorts_as_they_do() {
        let cursors = [
            Cursor::START,
            Cursor { version: 1, seq: 0 },
            Cursor { version: 1, seq: 7 },
            Cursor {
                version: 1,
                seq: 300,
            },
            Cursor::after_version(1),
            Cursor {
                version: 0x1_0000_0000,
                seq: 0,
            },
        ];
        for pair in cursors.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_string() < pair[1].to_string(), "{pair:?}");
        }
        for c in cursors {
            assert_eq!(c.to_string().len(), 24);
            assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        }
        for bad in [
            "",
            "12",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            "ffffffffffffffff00000000",
        ] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }
}
