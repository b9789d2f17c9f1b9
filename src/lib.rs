//! tarcza: may this number be dialled?
//!
//! A do-not-call suppression service for contact centres. The dialer asks `/v1/check`
//! before every call; the answer comes from an in-memory snapshot of the company's own
//! do-not-call list and of national opt-out registries, kept in step with Postgres.

pub mod config;
pub mod db;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod http;
pub mod import;
pub mod index;
pub mod jobs;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use startup::{prepare, serve};
