//! How long evidence (history and audit) keeps personal data: whole years, as the law
//! counts limitation periods, or a plain duration.

use std::fmt;

/// A retention period: `years` calendar years plus `seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub years: u32,
    pub seconds: u64,
}

impl Retention {
    /// Six years: the general limitation period for claims in Poland (Civil Code art. 118).
    pub const DEFAULT: Retention = Retention {
        years: 6,
        seconds: 0,
    };
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.years, self.seconds) {
            (y, 0) => write!(f, "{y}y"),
            (0, s) => write!(f, "{s}s"),
            (y, s) => write!(f, "{y}y{s}s"),
        }
    }
}
