//! Types that are valid once built: raw strings never reach storage or the index. Also
//! the words several layers share (`registry_file`: formats, modes, import statuses;
//! `consent`: consents, purposes and the policies that require them).
//!
//! The bottom layer: it uses no other module of the crate.

#[macro_use]
mod words;

pub mod binding;
pub mod change;
pub mod consent;
pub mod fields;
pub mod hash;
pub mod phone;
pub mod registry_file;
pub mod retention;
pub mod role;
pub mod scope;
pub mod webhook;

pub use binding::{Binding, Refusal, MAX_BOUND_CAMPAIGNS};
pub use change::{ChangeAction, Cursor};
pub use consent::{ConsentError, NewConsent, Policy, Purpose};
pub use hash::HashScheme;
pub use phone::{
    warm_up_fast_path, NumberError, NumberErrorKind, PhoneNumber, Prefix, PrefixError, Region,
    Target,
};
pub use registry_file::{Encoding, Format, ImportPhase, ImportStatus, Mode, Op};
pub use retention::Retention;
pub use role::Role;
pub use scope::{scope_key, Scope, ScopeError, ScopeName};
pub use webhook::{WebhookState, WebhookUrl};
