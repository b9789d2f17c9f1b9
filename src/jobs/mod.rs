//! Background loops, each around a single step that tests can call directly.

pub mod changes;
pub mod sync;
