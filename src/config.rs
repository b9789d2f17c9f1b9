//! One typed configuration, read once from the command line and the environment.
//! A bad value fails start-up and names the variable. [`Settings`] is what the running
//! service keeps of it.
//!
//! Uses only `domain`: the layers above read their settings from here, never the
//! environment. `cli.rs` the command line, `serve.rs` the settings and their checks,
//! `parse.rs` the reading of one value, `registries.rs` the per-registry variables,
//! `settings.rs` what the running service keeps.

mod cli;
mod parse;
pub mod registries;
mod serve;
mod settings;

pub use cli::{CheckArgs, Cli, Command, ImportArgs, KeysCommand, ServerArgs};
pub use parse::parse_duration;
pub use registries::{RegistryConfig, Source, StalePolicy};
pub use serve::{Config, LogFormat, MIN_CHANGES_RETENTION};
pub use settings::{Settings, WebhookSettings};
