//! Types that are valid once built: raw strings never reach storage or the index.

pub mod hash;
pub mod phone;
pub mod role;
pub mod scope;

pub use hash::HashScheme;
pub use phone::{warm_up_fast_path, NumberError, NumberErrorKind, PhoneNumber, Region};
pub use role::Role;
pub use scope::{scope_key, Scope, ScopeError, ScopeName};
