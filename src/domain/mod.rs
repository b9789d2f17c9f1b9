//! Types that are valid once built: raw strings never reach storage or the index.

pub mod hash;
pub mod phone;
pub mod registry_file;
pub mod role;
pub mod scope;

pub use hash::HashScheme;
pub use phone::{warm_up_fast_path, NumberError, NumberErrorKind, PhoneNumber, Region};
pub use registry_file::{Encoding, Format, ImportStatus, Mode, Op};
pub use role::Role;
pub use scope::{scope_key, Scope, ScopeError, ScopeName};
