//! The console's words in English (the default) and Polish, chosen with the language
//! switch (a cookie). Every text is a field, so a missing translation does not compile.
//! The API's own error details stay in English; the sentence above them is translated.
//!
//! `shared.rs` holds [`Tr`] (one language's words) and the words several pages use; each
//! page's own words are in the file named after it (`lookup.rs`, `keys.rs`, …).

use axum::http::HeaderMap;

/// A struct of texts, one `&'static str` field per name (after any other fields in braces).
macro_rules! texts {
    ($(#[$doc:meta])* $name:ident $({ $($part:ident: $ty:ty),* $(,)? })? $($field:ident),* $(,)?) => {
        $(#[$doc])*
        pub struct $name { $($(pub $part: $ty,)*)? $(pub $field: &'static str,)* }
    };
}

mod audit;
mod keys;
mod list;
mod lookup;
mod overview;
mod registries;
mod shared;
mod write;

pub use shared::Tr;
use shared::{EN, PL};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    En,
    Pl,
}

impl Lang {
    pub fn of(headers: &HeaderMap) -> Lang {
        match super::cookies::get(headers, super::cookies::LANG) {
            Some("pl") => Lang::Pl,
            _ => Lang::En,
        }
    }

    pub fn tr(self) -> &'static Tr {
        match self {
            Lang::En => &EN,
            Lang::Pl => &PL,
        }
    }

    pub fn code(self) -> &'static str {
        self.tr().code
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Pl,
            Lang::Pl => Lang::En,
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Pl => "Polski",
        }
    }
}
