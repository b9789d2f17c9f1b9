//! tarcza: may this number be dialled?
//!
//! A do-not-call suppression service for contact centres. The dialer asks `/v1/check`
//! before every call; the answer comes from an in-memory snapshot of the company's own
//! do-not-call list and of national opt-out registries, kept in step with Postgres.
//!
//! The layers, each using only those below it (README "Layout"): `startup` wires them;
//! `console` (the web pages, a client of the API) and `http` (with `error`) are the only
//! ones that know HTTP; `jobs`, `import` and `history` take plain inputs and return
//! their own errors; `index` answers from memory (`activity` counts what it answered); `store`
//! holds every SQL statement; `config`, `db` and `embedded` set things up; `domain` holds
//! the types and words all of them share, `metrics` the counters all of them write. This
//! file is the module list and the entry points.

pub mod activity;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod history;
pub mod http;
pub mod import;
pub mod index;
pub mod jobs;
pub mod metrics;
pub mod receipts;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use startup::{prepare, serve};
